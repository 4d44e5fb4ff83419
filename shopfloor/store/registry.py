"""Every read model, once: its handlers, the tables they write, the views they mark, its rebuild.

Adding a read model (say quality inspections):
1. `store/quality.py`: its tables, `table_of(Inspection, "quality_inspections", key=(...))` from
   the fold's `@frozen` rows, and its handler: an `EntityHandler` subclass (event types, table, fold,
   view, appends, counts), or any class with `event_types`, `tables`, `views` and `apply`;
2. one line in `MODELS` below: `ReadModel.of("quality", QualityHandler()),`.
Everything else follows from this list: the handlers the projector runs (in this order), the
tables `create_schema` makes (`TABLES`), the topics and event types a rebuild replays, and the
rebuild's grouping: handlers that write a table in common go in one `ReadModel.of(...)`, rebuilt
together and found by any of its names (`aliases`). `tests/unit/test_registry.py` fails when a
table, event type or view is left out (and asks for a sample event of a new event type).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlalchemy import Table

from shopfloor.events.models import event_topics
from shopfloor.store import audit, bookkeeping, notifications
from shopfloor.store.alerts import AlertCommandHandler
from shopfloor.store.changes import Handler
from shopfloor.store.entity import EntityHandler
from shopfloor.store.equipment import EquipmentHandler
from shopfloor.store.inventory import InventoryHandler
from shopfloor.store.lines import LineMachineHandler, LineOrderHandler
from shopfloor.store.outbound import OutboundHandler
from shopfloor.store.quality import QualityHandler
from shopfloor.store.sensors import SensorHandler
from shopfloor.store.work_orders import WorkOrderHandler

if TYPE_CHECKING:
    from shopfloor.config import Settings


@dataclass(frozen=True)
class ReadModel:
    name: str
    handlers: tuple[Handler, ...]
    tables: tuple[Table, ...]
    views: tuple[str, ...]
    aliases: tuple[str, ...] = ()

    @classmethod
    def of(cls, name: str, *handlers: Handler, aliases: tuple[str, ...] = ()) -> ReadModel:
        """The model of these handlers: the tables they write (by name) and the views they mark."""
        tables = {t.name: t for h in handlers for t in h.tables}
        views = tuple(dict.fromkeys(v for h in handlers for v in h.views))
        return cls(name, handlers, tuple(tables[n] for n in sorted(tables)), views, aliases)

    @property
    def event_types(self) -> frozenset[str]:
        return frozenset().union(*(h.event_types for h in self.handlers))

    def topics(self, settings: Settings) -> list[str]:
        return topics_of(self.event_types, settings)


LEAN = "~lean"  # a part without its facts is snapshotted under its name with this suffix


@dataclass(frozen=True)
class Part:
    """Handlers that write no table in common with any other handler: a past view folds, snapshots
    and loads each part on its own, so a board's past loads only the parts the board reads (the
    work-order tables keep every order; the sensor board's past never loads them)."""

    name: str
    handlers: tuple[Handler, ...]
    tables: tuple[Table, ...]
    facts: tuple[Table, ...] = ()  # only appended to, never read by a fold: histories, line facts
    # (a lean part keeps naming them, with none of them in `tables`)

    def topics(self, settings: Settings) -> list[str]:
        return topics_of(frozenset().union(*(h.event_types for h in self.handlers)), settings)

    def lean(self) -> Part:
        """The part without its facts, for a board that reads only current state: its folds need
        none of them, so it replays the same and loads a fraction (every order's status history
        and progress facts are most of the work-order parts' bytes)."""
        tables = tuple(t for t in self.tables if t not in self.facts)
        return Part(self.name + LEAN, self.handlers, tables, self.facts)

    @property
    def base(self) -> str:
        return whole_part(self.name)


def whole_part(name: str) -> str:
    """The whole part a (lean) part's name is of: its snapshots also start the lean part's replay."""
    return name.removesuffix(LEAN)


def topics_of(event_types: frozenset[str], settings: Settings) -> list[str]:
    """The topics carrying these event types (every plant topic when a type is not mapped)."""
    by_type = event_topics(settings)
    if any(t not in by_type for t in event_types):
        return list(settings.topics)
    return sorted({by_type[t] for t in event_types})


def parts_of(handlers: Sequence[Handler]) -> tuple[Part, ...]:
    """`handlers` grouped by the tables they write in common (in their given order), each group
    named after its first handler's first table."""
    groups: list[list[Handler]] = []
    for handler in handlers:
        names = {t.name for t in handler.tables}
        joined = [g for g in groups if names & {t.name for h in g for t in h.tables}]
        groups = [g for g in groups if g not in joined] + [[h for g in joined for h in g] + [handler]]
    ordered = sorted((sorted(g, key=handlers.index) for g in groups), key=lambda g: handlers.index(g[0]))
    return tuple(
        Part(
            g[0].tables[0].name,
            tuple(g),
            tuple({t.name: t for h in g for t in h.tables}.values()),
            tuple(t for h in g if isinstance(h, EntityHandler) for t in h.appends.values()),
        )
        for g in ordered
    )


MODELS: tuple[ReadModel, ...] = (
    ReadModel.of("work-orders", WorkOrderHandler()),
    ReadModel.of("inventory", InventoryHandler()),
    ReadModel.of("outbound", OutboundHandler()),
    # readings raise alerts and discover machines: one rebuild
    ReadModel.of(
        "equipment", EquipmentHandler(), SensorHandler(), AlertCommandHandler(), aliases=("sensors", "alerts")
    ),
    ReadModel.of("lines", LineOrderHandler(), LineMachineHandler()),  # plan vs actual per line
    ReadModel.of("quality", QualityHandler()),  # also marks the work-order board's inspection cell
)

HANDLERS: list[Handler] = [handler for model in MODELS for handler in model.handlers]
PARTS = parts_of(HANDLERS)
# Written by the store itself, not folded from events: positions, applied ids, dead letters, audit
# trail, alarm webhook deliveries (created with the store, even before a webhook is set).
BOOKKEEPING: tuple[Table, ...] = (*bookkeeping.TABLES, audit.AUDIT, notifications.NOTIFICATIONS)
BOOKKEEPING_VIEWS = ("dead-letters",)  # marked by the batch itself when it dead-letters records
TABLES: tuple[Table, ...] = (*(t for model in MODELS for t in model.tables), *BOOKKEEPING)


def read_models(handlers: Sequence[Handler] | None = None) -> dict[str, ReadModel]:
    """The registered models by name; given `handlers`, only those whose handlers are all among them
    (by type: a process runs the registry's handlers or a subset)."""
    running = None if handlers is None else {type(h) for h in handlers}
    return {m.name: m for m in MODELS if running is None or all(type(h) in running for h in m.handlers)}


def find(name: str, handlers: Sequence[Handler] | None = None) -> ReadModel:
    models = read_models(handlers)
    for model in models.values():
        if name == model.name or name in model.aliases:
            return model
    known = sorted(n for m in models.values() for n in (m.name, *m.aliases))
    raise ValueError(f"unknown read model {name!r}; one of: {', '.join(known)}")
