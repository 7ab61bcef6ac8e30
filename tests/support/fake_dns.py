"""Fake resolvers for webhook targets, named as fakes: real DNS cannot be made to answer a chosen
address (or to fail) on demand, as a rebinding name server would."""

from __future__ import annotations

import socket
from collections.abc import Sequence

from controlplane.domain import webhook_targets


def fake_resolver(*answers: str) -> webhook_targets.Resolver:
    """A resolver answering every name with these addresses."""

    async def answer(host: str, port: int) -> Sequence[str]:
        return list(answers)

    return answer


async def fake_failing_resolver(host: str, port: int) -> Sequence[str]:
    raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
