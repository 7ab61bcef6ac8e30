"""Applications and their config vars."""

from __future__ import annotations

import secrets
import string

from msgspec import UNSET
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from controlplane.api.applications import presenter
from controlplane.api.applications.schemas import (
    ApplicationCreate,
    ApplicationList,
    ApplicationUpdate,
    ConfigVarKeys,
    ConfigVarsUpdate,
)
from controlplane.api.auth import Principal
from controlplane.api.teams.service import team_of_new
from controlplane.domain import clock, validation
from controlplane.domain.errors import DuplicateApplication, FieldError, NotFound, PlanLimitReached, ValidationFailed
from controlplane.domain.settings import Settings
from controlplane.store import changes, lookup, models, repository

NAMESPACE_SUFFIX_ALPHABET = string.ascii_lowercase + string.digits


def new_namespace(name: str) -> str:
    return f"{name}-" + "".join(secrets.choice(NAMESPACE_SUFFIX_ALPHABET) for _ in range(6))


class ApplicationService:
    def __init__(self, session: AsyncSession, settings: Settings, caller: Principal) -> None:
        self.session = session
        self.settings = settings
        self.caller = caller
        self.scope = caller.scope

    async def require(self, app_id: str) -> models.Application:
        return await lookup.application(self.session, self.scope, app_id)

    async def list(self, offset: int, limit: int) -> ApplicationList:
        rows, total = await repository.list_applications(self.session, self.scope, offset, limit)
        return ApplicationList(data=[presenter.application(a) for a in rows], total=total, offset=offset, limit=limit)

    async def create(self, data: ApplicationCreate) -> models.Application:
        display_name = data.name if data.display_name is UNSET else data.display_name
        image = None if data.image is UNSET else data.image
        errors = validation.application_name_errors(data.name)
        if data.display_name is not UNSET:  # the default, the name, is checked as the name
            errors += validation.display_name_errors(display_name)
        errors += validation.image_errors(image)
        if errors:
            raise ValidationFailed(errors)
        team_id = await team_of_new(self.session, self.caller, data.team_id)
        # Names are global (they name namespaces): a name another team took is refused the same
        # way, which says no more than that the name is taken.
        if await repository.application_by_name(self.session, data.name) is not None:
            raise DuplicateApplication(f"An application named '{data.name}' already exists", field="name")
        # Locked before counting, so parallel creates never take the team past its limit.
        if not await repository.lock_team(self.session, team_id):
            raise NotFound(f"Team {team_id} does not exist")
        limit = self.settings.max_applications_per_team
        if await repository.count_applications(self.session, team_id) >= limit:
            raise PlanLimitReached(
                f"A team may have at most {limit} applications on this plan", scope="per_team", limit=limit
            )
        now = clock.utcnow()
        app = models.Application(
            team_id=team_id,
            name=data.name,
            display_name=display_name,
            namespace=new_namespace(data.name),
            image=image,
            created_at=now,
            updated_at=now,
        )
        self.session.add(app)
        try:
            await self.session.flush()
        except IntegrityError as exc:
            raise DuplicateApplication(f"An application named '{data.name}' already exists", field="name") from exc
        await changes.announce(self.session, app.id)
        await self.session.commit()
        return app

    async def update(self, app_id: str, data: ApplicationUpdate) -> models.Application:
        app = await lookup.locked_application(self.session, self.scope, app_id)
        errors: list[FieldError] = []
        if data.name is not UNSET and data.name != app.name:
            errors.append(
                FieldError("name", "immutable", "an application cannot be renamed: its namespace bears its name")
            )
        if data.display_name is not UNSET:
            errors += validation.display_name_errors(data.display_name)
        if data.image is not UNSET:
            errors += validation.image_errors(data.image)
        if errors:
            raise ValidationFailed(errors)
        changed = False
        if data.display_name is not UNSET and data.display_name != app.display_name:
            app.display_name, changed = data.display_name, True
        if data.image is not UNSET and data.image != app.image:
            app.image, changed = data.image, True
        if changed:
            app.updated_at = clock.utcnow()
            await changes.announce(self.session, app.id)
            await self.session.commit()
        return app

    async def delete(self, app_id: str) -> None:
        app = await lookup.locked_application(self.session, self.scope, app_id)
        await self.session.delete(app)
        await changes.announce(self.session, app_id)
        await self.session.commit()

    async def config_var_keys(self, app_id: str) -> ConfigVarKeys:
        await self.require(app_id)
        return ConfigVarKeys(keys=sorted(await repository.config_vars(self.session, app_id)))

    async def change_config_vars(self, app_id: str, data: ConfigVarsUpdate) -> ConfigVarKeys:
        # Locked: the keys read below are the ones written over, and config_generation counts every change.
        app = await lookup.locked_application(self.session, self.scope, app_id)
        errors = validation.config_var_errors(data.vars)
        if errors:
            raise ValidationFailed(errors)
        rows = await repository.config_var_rows(self.session, app_id)
        resulting = {key: row.value for key, row in rows.items()}
        for key, value in data.vars.items():
            if value is None:
                resulting.pop(key, None)
            else:
                resulting[key] = value
        if errors := validation.config_vars_size_errors(resulting):
            raise ValidationFailed(errors)
        changed = False
        for key, value in data.vars.items():
            row = rows.get(key)
            if value is None:
                if row is not None:
                    await self.session.delete(row)
                    changed = True
            elif row is None:
                self.session.add(models.ConfigVar(app_id=app_id, key=key, value=value))
                changed = True
            elif row.value != value:
                row.value, changed = value, True
        if changed:
            app.config_generation += 1
            app.updated_at = clock.utcnow()
            await changes.announce(self.session, app_id)
            await self.session.commit()
        return ConfigVarKeys(keys=sorted(resulting))
