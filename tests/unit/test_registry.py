"""The registry covers everything: every table, event type and view belongs to a registered read model
(or is bookkeeping), so a model left out of `store/registry.py` fails here, not silently at run time."""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Iterator
from datetime import datetime
from enum import Enum
from typing import Annotated, Any, get_args, get_origin

import pytest
from sqlalchemy import Engine, StaticPool, create_engine

import shopfloor
from shopfloor.config import Settings
from shopfloor.events.codec import decode
from shopfloor.events.envelope import Envelope
from shopfloor.events.models import EVENT_TYPES, EventData, event_topics
from shopfloor.store import registry
from shopfloor.store.changes import Changes
from shopfloor.store.db import create_schema
from shopfloor.store.schema import METADATA
from tests.support import encode, event


def _import_everything() -> None:
    """Every module of the package, so a table declared anywhere is on the metadata."""
    for module in pkgutil.walk_packages(shopfloor.__path__, "shopfloor."):
        if not module.name.endswith("__main__"):
            importlib.import_module(module.name)


def test_every_table_is_created_and_belongs_to_one_model_or_the_bookkeeping() -> None:
    from shopfloor.runtime import SCHEMA  # what every process creates on opening the store

    _import_everything()
    created = {t.name for t in SCHEMA}
    missing = sorted(set(METADATA.tables) - created)
    assert not missing, f"tables declared but never created (register their read model): {missing}"
    owners: dict[str, list[str]] = {}
    for model in registry.MODELS:
        for table in model.tables:
            owners.setdefault(table.name, []).append(model.name)
    for table in registry.BOOKKEEPING:
        owners.setdefault(table.name, []).append("bookkeeping")
    shared = {name: models for name, models in owners.items() if len(models) > 1}
    assert not shared, f"tables in two read models (rebuild them as one, in one ReadModel): {shared}"
    store_tables = {t.name for t in registry.TABLES}
    assert store_tables == set(owners)
    outside = created - store_tables  # sign-in and rebuild progress: declared above the store
    assert outside == {"users", "auth_sessions", "kiosk_links", "rebuild_progress"}


def test_every_event_type_has_a_model_and_a_topic() -> None:
    handled = frozenset().union(*(m.event_types for m in registry.MODELS))
    assert sorted(set(EVENT_TYPES) - handled) == [], "event types no registered read model applies"
    assert sorted(handled - set(EVENT_TYPES)) == [], "handlers for event types that do not exist"
    settings = Settings()
    topics = event_topics(settings)
    for model in registry.MODELS:
        assert set(model.topics(settings)) == {topics[t] for t in model.event_types}
        assert set(model.topics(settings)) <= set(settings.topics), model.name


def test_names_are_unique_and_found() -> None:
    names = [n for m in registry.MODELS for n in (m.name, *m.aliases)]
    assert len(names) == len(set(names))
    for model in registry.MODELS:
        for name in (model.name, *model.aliases):
            assert registry.find(name) is model
            assert registry.find(name, registry.HANDLERS) is model
    with pytest.raises(ValueError, match="unknown read model"):
        registry.find("nothing")


@pytest.fixture
def engine() -> Iterator[Engine]:
    engine = create_engine("sqlite://", poolclass=StaticPool)
    create_schema(engine, registry.TABLES)
    yield engine
    engine.dispose()


def _sample(model: type[EventData]) -> dict[str, Any]:
    """A full payload of an event type: every field of a plain type, one plain value each (optional
    ones too, so a view marked only for an optional reference, say an order, is marked)."""
    values: dict[type, Any] = {str: "x-1", int: 1, float: 1.0, datetime: "2026-11-27T09:00:00Z", list: []}
    data: dict[str, Any] = {}
    for name, info in model.model_fields.items():
        kind = info.annotation
        if not info.is_required():
            kinds = [k for k in get_args(kind) if k is not type(None)] or [kind]
            kinds = [get_args(k)[0] if get_origin(k) is Annotated else k for k in kinds]
            kind = kinds[0] if len(kinds) == 1 else None
        if isinstance(kind, type) and issubclass(kind, Enum):
            data[name] = next(iter(kind)).value
        elif kind in values:
            data[name] = values[kind]
        else:
            assert not info.is_required(), f"{model.__name__}.{name}: no sample value for {kind}"
    model.model_validate(data)
    return data


def _samples() -> list[Envelope]:
    return [
        decode(*encode(event(name, _sample(model), offset_s=i)))
        for i, (name, model) in enumerate(EVENT_TYPES.items())
    ]


def test_every_view_a_handler_marks_is_one_its_model_declares(engine: Engine) -> None:
    """A rebuild refreshes its model's declared views only: a view marked but not declared would
    keep showing the pre-rebuild rows; one declared but never marked is a stale declaration."""
    events = _samples()
    for model in registry.MODELS:
        marked: set[str] = set()
        for handler in model.handlers:
            changes = Changes()
            with engine.begin() as conn:
                handler.apply(conn, [e for e in events if e.type in handler.event_types], changes)
            extra = set(changes.keys) - set(handler.views)
            assert not extra, f"{type(handler).__name__} marks {extra} but does not declare it in its views"
            assert set(changes.keys) <= set(model.views), model.name
            marked |= set(changes.keys)
        assert marked == set(model.views), f"{model.name} declares views its handlers never mark"
