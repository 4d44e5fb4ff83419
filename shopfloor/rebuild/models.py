"""Which read models can be rebuilt: each handler module's tables, view and event types.

A handler module declares its tables by defining them (SQLModel `table=True` classes); a handler may
also name them explicitly with a `tables` attribute. The read model's name is the module's name
with dashes (`shopfloor.store.work_orders` -> `work-orders`). Handlers writing a table in common are
rebuilt together, as one model named after the first and found by any of their names: sensor readings
raise alerts and discover machines, so `alerts`, `sensors` and `equipment` are one rebuild.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import Table
from sqlmodel import SQLModel

from shopfloor.config import Settings
from shopfloor.store.changes import Handler


@dataclass(frozen=True)
class ReadModel:
    name: str
    handlers: tuple[Handler, ...]
    tables: tuple[Table, ...]
    views: tuple[str, ...]
    aliases: tuple[str, ...] = ()

    @property
    def event_types(self) -> frozenset[str]:
        return frozenset().union(*(h.event_types for h in self.handlers))

    def topics(self, settings: Settings) -> list[str]:
        """The topics carrying this model's events (every plant topic when a type is not mapped)."""
        by_type = event_topics(settings)
        if any(t not in by_type for t in self.event_types):
            return list(settings.topics)
        return sorted({by_type[t] for t in self.event_types})


def event_topics(settings: Settings) -> dict[str, str]:
    """Which topic each event type is published to."""
    return settings.event_topics()


def _module_tables(module_name: str) -> list[Table]:
    found = []
    for mapper in SQLModel._sa_registry.mappers:  # type: ignore[attr-defined]
        cls = mapper.class_
        if cls.__module__ == module_name and isinstance(getattr(cls, "__table__", None), Table):
            found.append(cls.__table__)
    return sorted(found, key=lambda t: t.name)


def read_models(handlers: Sequence[Handler]) -> dict[str, ReadModel]:
    """Handlers grouped by module, then groups sharing a table merged (they must be rebuilt together)."""
    import shopfloor.store.tables  # noqa: F401  (every table module imported)

    models: list[ReadModel] = []
    for handler in handlers:
        module_name = type(handler).__module__
        name = module_name.rsplit(".", 1)[-1].replace("_", "-")
        declared = getattr(handler, "tables", None)
        tables = list(declared) if declared is not None else _module_tables(module_name)
        view = getattr(sys.modules[module_name], "VIEW", None)
        views = tuple(getattr(handler, "views", None) or ((view,) if view else ()))
        model = ReadModel(name, (handler,), tuple(tables), views)
        sharing = [m for m in models if m.name == name or set(m.tables) & set(tables)]
        for other in sharing:
            models.remove(other)
        for other in reversed(sharing):  # the earliest registered model names the merged one
            model = _merge(other, model)
        models.append(model)
    return {model.name: model for model in models if model.tables}


def _merge(first: ReadModel, second: ReadModel) -> ReadModel:
    names = [n for n in (first.name, *first.aliases, second.name, *second.aliases) if n != first.name]
    return ReadModel(
        first.name,
        (*first.handlers, *second.handlers),
        tuple(sorted({*first.tables, *second.tables}, key=lambda t: t.name)),
        tuple(dict.fromkeys((*first.views, *second.views))),
        tuple(dict.fromkeys(names)),
    )


def find(name: str, handlers: Sequence[Handler]) -> ReadModel:
    models = read_models(handlers)
    for model in models.values():
        if name == model.name or name in model.aliases:
            return model
    known = sorted(n for m in models.values() for n in (m.name, *m.aliases))
    raise ValueError(f"unknown read model {name!r}; one of: {', '.join(known)}")
