"""A scaling strategy is stored as the client sent it; what it leaves out takes the defaults
where the reconciler reads it, so the autoscaler behaves as if they had been sent."""

from __future__ import annotations

from controlplane.domain import spec
from controlplane.store import reconciling
from reconciler.render import workloads
from tests.unit.specs import process_spec

APP = spec.ApplicationSpec(id="a", name="shop", namespace="shop-abc123", image="shop:1")


def test_a_horizontal_strategy_stored_as_sent_takes_the_defaults() -> None:
    scaling = reconciling.scaling_of({"type": "horizontal", "config": {"minInstanceCount": 1, "maxInstanceCount": 3}})
    assert scaling == spec.HorizontalScaling(
        min_instance_count=1,
        max_instance_count=3,
        scale_up_interval_seconds=60,
        scale_down_interval_seconds=300,
        scale_up_increment=1,
        scale_down_increment=1,
    )
    hpa = workloads.render_hpa(APP, process_spec("web", "web", scaling=scaling), spec.RenderOptions(), "uid")
    (metric,) = hpa["spec"]["metrics"]
    assert (metric["resource"]["name"], metric["resource"]["target"]["averageUtilization"]) == ("cpu", 80)


def test_what_was_sent_wins_over_the_defaults() -> None:
    stored = {"type": "horizontal", "config": {"minInstanceCount": 2, "maxInstanceCount": 5, "scaleUpIncrement": 4}}
    scaling = reconciling.scaling_of(stored)
    assert isinstance(scaling, spec.HorizontalScaling)
    assert (scaling.scale_up_increment, scaling.scale_down_increment, scaling.target_cpu_percent) == (4, 1, None)
