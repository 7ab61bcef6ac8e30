"""The queries procplane runs: the only module that writes SQL for the services."""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from controlplane import models


async def get_application(session: AsyncSession, app_id: str) -> models.Application | None:
    return await session.get(models.Application, app_id)


async def application_by_name(session: AsyncSession, name: str) -> models.Application | None:
    result = await session.execute(select(models.Application).where(models.Application.name == name))
    return result.scalars().first()


async def list_applications(session: AsyncSession, offset: int, limit: int) -> tuple[Sequence[models.Application], int]:
    total = await session.scalar(sa.select(sa.func.count()).select_from(models.Application))
    result = await session.execute(
        select(models.Application)
        .order_by(col(models.Application.created_at), col(models.Application.id))
        .offset(offset)
        .limit(limit)
    )
    return result.scalars().all(), int(total or 0)


async def config_vars(session: AsyncSession, app_id: str) -> dict[str, str]:
    result = await session.execute(select(models.ConfigVar).where(models.ConfigVar.app_id == app_id))
    return {row.key: row.value for row in result.scalars().all()}


async def get_config_var(session: AsyncSession, app_id: str, key: str) -> models.ConfigVar | None:
    return await session.get(models.ConfigVar, (app_id, key))


async def get_process(session: AsyncSession, app_id: str, process_id: str) -> models.Process | None:
    row = await session.get(models.Process, process_id)
    return row if row is not None and row.app_id == app_id else None


async def runs_of(session: AsyncSession, process_id: str) -> Sequence[models.ProcessRun]:
    result = await session.execute(
        select(models.ProcessRun)
        .where(models.ProcessRun.process_id == process_id)
        .order_by(col(models.ProcessRun.requested_at).desc())
    )
    return result.scalars().all()


async def process_by_key(session: AsyncSession, app_id: str, key: str) -> models.Process | None:
    result = await session.execute(
        select(models.Process).where(models.Process.app_id == app_id, models.Process.key == key)
    )
    return result.scalars().first()


async def processes_of(session: AsyncSession, app_id: str) -> Sequence[models.Process]:
    result = await session.execute(
        select(models.Process).where(models.Process.app_id == app_id).order_by(col(models.Process.key))
    )
    return result.scalars().all()


async def list_processes(
    session: AsyncSession, app_id: str, offset: int, limit: int
) -> tuple[Sequence[models.Process], int]:
    total = await session.scalar(
        sa.select(sa.func.count()).select_from(models.Process).where(col(models.Process.app_id) == app_id)
    )
    result = await session.execute(
        select(models.Process)
        .where(models.Process.app_id == app_id)
        .order_by(col(models.Process.created_at), col(models.Process.key))
        .offset(offset)
        .limit(limit)
    )
    return result.scalars().all(), int(total or 0)


async def count_processes(session: AsyncSession, app_id: str) -> int:
    total = await session.scalar(
        sa.select(sa.func.count()).select_from(models.Process).where(col(models.Process.app_id) == app_id)
    )
    return int(total or 0)


async def resource_types(session: AsyncSession, *, active_only: bool) -> Sequence[models.ResourceType]:
    query = select(models.ResourceType).order_by(col(models.ResourceType.cpu_limit), col(models.ResourceType.name))
    if active_only:
        query = query.where(col(models.ResourceType.active).is_(True))
    result = await session.execute(query)
    return result.scalars().all()


async def get_resource_type(session: AsyncSession, type_id: str) -> models.ResourceType | None:
    return await session.get(models.ResourceType, type_id)


async def api_key_by_hash(session: AsyncSession, digest: str) -> models.ApiKey | None:
    result = await session.execute(select(models.ApiKey).where(models.ApiKey.token_hash == digest))
    return result.scalars().first()


async def list_api_keys(session: AsyncSession) -> Sequence[models.ApiKey]:
    result = await session.execute(select(models.ApiKey).order_by(col(models.ApiKey.created_at)))
    return result.scalars().all()


async def get_api_key(session: AsyncSession, key_id: str) -> models.ApiKey | None:
    return await session.get(models.ApiKey, key_id)


async def count_api_keys(session: AsyncSession) -> int:
    total = await session.scalar(sa.select(sa.func.count()).select_from(models.ApiKey))
    return int(total or 0)
