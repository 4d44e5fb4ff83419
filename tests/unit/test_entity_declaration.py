"""An entity handler's declaration is checked when the class is made, not when a batch meets it."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from shopfloor.events.envelope import Envelope
from shopfloor.projections.frozen import frozen
from shopfloor.store.entity import EntityHandler
from shopfloor.store.schema import METADATA, table_of


@frozen
class Thing:
    thing_id: str
    count: int


@frozen
class Note:
    thing_id: str
    text: str


@frozen
class Other:
    thing_id: str
    text: str


@frozen
class Twice:
    thing: Thing
    first: Note | None
    second: Other | None


def fold_twice(current: Thing | None, event: Envelope) -> Twice:
    raise NotImplementedError


def _declare(folded: Callable[[Thing | None, Envelope], object], appended: tuple[type, ...]) -> None:
    """A handler of things whose fold gives `folded`'s result, each of `appended` going to the notes
    table (declared from Note); both tables are taken out of the store's metadata again after."""
    things = table_of(Thing, "test_decl_things", key=("thing_id",))
    notes = table_of(Note, "test_decl_notes", key=("thing_id", "text"))
    try:

        class Handler(EntityHandler):
            event_types = frozenset({"Nothing"})
            table, fold, view = things, staticmethod(folded), "things"
            appends = dict.fromkeys(appended, notes)
    finally:  # the store's metadata is every registered table's
        METADATA.remove(things)
        METADATA.remove(notes)


def test_two_entries_appended_to_one_table_are_refused() -> None:
    """Their rows would go in field by field, not in log order, and the wrong one could win a key."""
    with pytest.raises(TypeError, match="two fields append to test_decl_notes"):
        _declare(fold_twice, (Note, Other))


@frozen
class Once:
    thing: Thing
    entry: Other | None


def fold_once(current: Thing | None, event: Envelope) -> Once:
    raise NotImplementedError


def test_an_entry_appended_to_a_table_of_another_class_is_refused() -> None:
    """A row goes in as its own fields in order, which are the columns only of a table declared from
    its class."""
    with pytest.raises(TypeError, match="test_decl_notes is not declared from Other"):
        _declare(fold_once, (Other,))
