"""HTTP surface of processes, including Procfile and app.json import."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Controller, Request, Response, delete, get, patch, post, put
from litestar.params import Parameter
from litestar.status_codes import HTTP_200_OK

from controlplane.api import ratelimit, strict_body
from controlplane.api.auth import Principal
from controlplane.api.deps import Pagination
from controlplane.api.processes import procfile
from controlplane.api.processes.procfile_import import import_processes
from controlplane.api.processes.schemas import (
    ProcessCreate,
    ProcessList,
    ProcessOut,
    ProcessRunList,
    ProcessUpdate,
    ProcfileResult,
)
from controlplane.api.processes.service import ProcessService
from controlplane.api.wire import Message
from controlplane.domain.errors import FieldError, UnsupportedMediaType, ValidationFailed

IfMatch = Annotated[str | None, Parameter(header="If-Match", required=False)]
MAX_PROCFILE_BYTES = 64 * 1024


def with_etag(process: ProcessOut, etag: str, status: int = HTTP_200_OK) -> Response[ProcessOut]:
    return Response(process, status_code=status, headers={"ETag": etag})


class ProcessController(Controller):
    """An application's processes, as Sevalla's processes API serves them; each answer carries the
    process's ETag, which PATCH and DELETE accept as If-Match."""

    path = "/applications/{app_id:str}/processes"
    tags = ["processes"]

    @get("/", summary="List an application's processes")
    async def list_processes(self, processes: ProcessService, app_id: str, pagination: Pagination) -> ProcessList:
        return await processes.list(app_id, pagination.offset, pagination.limit)

    # 200, not 201: Sevalla's contract answers a created process with 200.
    @post(
        "/",
        summary="Create a process; its key is derived when not given",
        status_code=HTTP_200_OK,
        opt=ratelimit.CREATES,
    )
    async def create_process(self, processes: ProcessService, app_id: str, data: ProcessCreate) -> Response[ProcessOut]:
        return with_etag(*await processes.create(app_id, data))

    @get("/{process_id:str}", summary="Get a process")
    async def get_process(self, processes: ProcessService, app_id: str, process_id: str) -> Response[ProcessOut]:
        return with_etag(*await processes.get(app_id, process_id))

    @patch("/{process_id:str}", summary="Change a process (scale, limits, probes, schedule...)")
    async def update_process(
        self,
        processes: ProcessService,
        app_id: str,
        process_id: str,
        data: ProcessUpdate,
        if_match: IfMatch = None,
    ) -> Response[ProcessOut]:
        return with_etag(*await processes.update(app_id, process_id, data, if_match))

    @delete("/{process_id:str}", summary="Delete a process", status_code=HTTP_200_OK)
    async def delete_process(
        self, processes: ProcessService, app_id: str, process_id: str, if_match: IfMatch = None
    ) -> Message:
        await processes.delete(app_id, process_id, if_match)
        return Message(f"Process {process_id} deleted")

    @post(
        "/{process_id:str}/trigger",
        opt=ratelimit.CREATES,
        summary="Run a cron process now (a Job from its CronJob's template); the run is listed under runs",
        status_code=HTTP_200_OK,
    )
    async def trigger_process(
        self, request: Request[Principal, Any, Any], processes: ProcessService, app_id: str, process_id: str
    ) -> Message:
        run = await processes.trigger(app_id, process_id, request.user.name)
        return Message(f"Cron process {process_id} triggered as run {run.id}")

    @get("/{process_id:str}/runs", summary="The runs triggered for a cron process, newest first")
    async def list_process_runs(
        self, processes: ProcessService, app_id: str, process_id: str, pagination: Pagination
    ) -> ProcessRunList:
        return await processes.runs(app_id, process_id, pagination.offset, pagination.limit)


class ProcfileController(Controller):
    path = "/applications/{app_id:str}/procfile"
    tags = ["processes"]

    @put(
        "/",
        summary="Declare processes with a Procfile (text/plain) or an app.json cron list (application/json)",
        status_code=HTTP_200_OK,
    )
    async def put_procfile(
        self, request: Request[Any, Any, Any], processes: ProcessService, app_id: str, prune: bool = False
    ) -> ProcfileResult:
        body = await request.body()
        if len(body) > MAX_PROCFILE_BYTES:
            raise ValidationFailed([FieldError("body", "too_long", f"at most {MAX_PROCFILE_BYTES} bytes")])
        media_type = request.content_type[0]
        if strict_body.is_json(media_type):
            declared, source = procfile.parse_app_json(body), "app_json"
        elif media_type in ("text/plain", "application/octet-stream", ""):
            try:
                text = body.decode()
            except UnicodeDecodeError as exc:
                raise ValidationFailed([FieldError("procfile", "invalid_encoding", "must be UTF-8 text")]) from exc
            declared, source = procfile.parse_procfile(text), "procfile"
        else:
            raise UnsupportedMediaType("Send a Procfile as text/plain or an app.json as application/json")
        return await import_processes(processes, app_id, declared, source=source, prune=prune)
