"""Heartbeats (a dead-man's switch): a process given an interval must ping within it, or it is DEAD; a ping
after death brings it back as RESURRECTED. The observer records deaths and alerts on them; a
ping is authenticated by the process's own heartbeat token (or a writer's API key)."""

from __future__ import annotations

import hmac
from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from controlplane.api import auth
from controlplane.api.api_keys import service as api_keys
from controlplane.api.observing import presenter
from controlplane.api.observing.alert_rules import heartbeat_errors
from controlplane.api.observing.schemas import HeartbeatOut, HeartbeatUpdate
from controlplane.domain import observed, states
from controlplane.domain.clock import utcnow
from controlplane.domain.errors import Forbidden, NotFound, Unauthorized, ValidationFailed
from controlplane.domain.tenancy import TeamScope
from controlplane.store import lookup, models, repository


async def _heartbeat_of(
    session: AsyncSession, scope: TeamScope, app_id: str, process_id: str
) -> models.ProcessHeartbeat:
    row = await lookup.process(session, scope, app_id, process_id)
    beat = await repository.heartbeat_of(session, row.id)
    if beat is None:
        raise NotFound(f"Process {process_id} has no heartbeat; PUT one with an interval first")
    return beat


class HeartbeatService:
    def __init__(self, session: AsyncSession, scope: TeamScope) -> None:
        self.session = session
        self.scope = scope

    async def _process(self, app_id: str, process_id: str) -> models.Process:
        return await lookup.process(self.session, self.scope, app_id, process_id)

    async def _heartbeat(self, app_id: str, process_id: str) -> models.ProcessHeartbeat:
        return await _heartbeat_of(self.session, self.scope, app_id, process_id)

    async def get(self, app_id: str, process_id: str) -> HeartbeatOut:
        beat = await self._heartbeat(app_id, process_id)
        return presenter.heartbeat(beat, utcnow())

    async def configure(self, app_id: str, process_id: str, data: HeartbeatUpdate) -> HeartbeatOut:
        """Give the process a heartbeat (its first window starts now), or change its interval.
        The token is returned when it is issued: on creation and when `rotate_token` is true."""
        errors = heartbeat_errors(data)
        if errors:
            raise ValidationFailed(errors)
        # Locked: of parallel first configurations one creates the heartbeat and issues its token.
        await lookup.locked_application(self.session, self.scope, app_id)
        row = await self._process(app_id, process_id)
        now = utcnow()
        beat = await repository.heartbeat_of(self.session, row.id)
        token: str | None = None
        if beat is None or data.rotate_token is True:
            token = observed.new_heartbeat_token()
        if beat is None:
            assert token is not None
            beat = models.ProcessHeartbeat(
                process_id=row.id,
                interval_seconds=data.interval_seconds,
                token_prefix=auth.display_prefix(token),
                token_hash=auth.token_hash(token),
                status=states.HeartbeatStatus.ALIVE,
                last_heartbeat_at=now,
                next_heartbeat_at=now + timedelta(seconds=data.interval_seconds),
                created_at=now,
            )
            self.session.add(beat)
        else:
            beat.interval_seconds = data.interval_seconds
            beat.next_heartbeat_at = observed.aware(beat.last_heartbeat_at) + timedelta(seconds=data.interval_seconds)
            if token is not None:
                beat.token_prefix, beat.token_hash = auth.display_prefix(token), auth.token_hash(token)
        await self.session.commit()
        return presenter.heartbeat(beat, now, token=token)

    async def remove(self, app_id: str, process_id: str) -> None:
        await lookup.locked_application(self.session, self.scope, app_id)
        beat = await self._heartbeat(app_id, process_id)
        await self.session.delete(beat)
        await self.session.commit()


async def ping(session: AsyncSession, app_id: str, process_id: str, bearer: str | None) -> HeartbeatOut:
    """A ping, authenticated by the process's own heartbeat token (whichever team it is of), or by
    a writer's API key, which reaches only its team's processes."""
    if bearer is None:
        raise Unauthorized("Send the process's heartbeat token as 'Authorization: Bearer <token>'")
    if not bearer.startswith(observed.HEARTBEAT_TOKEN_PREFIX):
        principal = await api_keys.authenticate(session, bearer)
        if not principal.can_write:
            raise Forbidden("This API key is read-only (role viewer)")
        beat = await _heartbeat_of(session, principal.scope, app_id, process_id)
    else:
        row = await repository.get_process(session, app_id, process_id)
        found = await repository.heartbeat_of(session, row.id) if row is not None else None
        # One answer for every token that does not fit this process: no probing for ids.
        if found is None or not hmac.compare_digest(found.token_hash, auth.token_hash(bearer)):
            raise Unauthorized("The heartbeat token is not this process's")
        beat = found
    now = utcnow()
    beat.status = observed.status_after_ping(beat.status, beat.next_heartbeat_at, now)
    beat.last_heartbeat_at = now
    beat.next_heartbeat_at = now + timedelta(seconds=beat.interval_seconds)
    await session.commit()
    return presenter.heartbeat(beat, now)
