"""The heap gauge tells a leak from allocator retention: it follows live objects, freed ones included."""

from __future__ import annotations

from prometheus_client import REGISTRY

from shopfloor import metrics  # noqa: F401  (registers the gauge)


def _blocks() -> float:
    value = REGISTRY.get_sample_value("shopfloor_python_allocated_blocks")
    assert value is not None, "shopfloor_python_allocated_blocks is not exported"
    return value


def test_allocated_blocks_rise_with_held_objects_and_fall_when_they_are_freed() -> None:
    before = _blocks()
    held = [object() for _ in range(200_000)]
    during = _blocks()
    del held
    after = _blocks()
    assert during - before >= 190_000
    assert during - after >= 190_000  # less what the measuring itself holds
