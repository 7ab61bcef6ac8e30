"""Where a state must be spelled as a Literal (wire choices that also take "", the CRD's status
enum), it spells exactly the domain's StrEnum."""

from __future__ import annotations

from enum import StrEnum
from typing import Any, get_args

import pytest

from controlplane.api.processes import schemas
from controlplane.domain import states
from reconciler.converge import status


@pytest.mark.parametrize(
    ("literal", "enum"),
    [
        (schemas.IngressProtocol, states.IngressProtocol),
        (schemas.JobStartPolicy, states.JobStartPolicy),
        (status.State, states.ProcessStatus),
    ],
)
def test_literal_spells_the_enum(literal: Any, enum: type[StrEnum]) -> None:
    assert set(get_args(literal)) == {member.value for member in enum}
