"""Listing a page of processes costs the same number of queries however long the page."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import sqlalchemy as sa

from tests.api.conftest import Api


@contextmanager
def counted() -> Iterator[list[str]]:
    """Every statement any engine sends while the block runs."""
    statements: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        statements.append(statement)

    sa.event.listen(sa.engine.Engine, "before_cursor_execute", record)
    try:
        yield statements
    finally:
        sa.event.remove(sa.engine.Engine, "before_cursor_execute", record)


def test_a_page_of_processes_costs_a_constant_number_of_queries(api: Api, app_id: str) -> None:
    for index in range(20):  # the default plan limit
        api.create_process(app_id, key=f"worker-{index}", type="worker")
    costs = {}
    for limit in (1, 5, 20):
        with counted() as statements:
            page = api.get(f"/v1/applications/{app_id}/processes", params={"limit": limit}).json()
        assert len(page["data"]) == limit
        costs[limit] = len(statements)
    assert costs[1] == costs[5] == costs[20], costs
