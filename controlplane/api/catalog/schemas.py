"""Wire types of catalog."""

from __future__ import annotations

from controlplane.api.wire import Response
from controlplane.domain.states import ResourceCategory


class ResourceTypeOut(Response):
    id: str
    name: str
    category: ResourceCategory
    cpu_limit: int
    memory_limit: int
