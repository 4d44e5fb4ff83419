"""The common shape of a batch handler, and the pieces the special ones reuse.

`EntityHandler` is load by key -> pure fold per event -> upsert the states -> append the fold's
entries -> bump its counters -> mark the view, declared instead of written out:

    class WorkOrderHandler(EntityHandler):
        event_types = frozenset({"WorkOrderStatusChanged"})
        table, fold, view = ORDERS, staticmethod(fold), VIEW
        appends = {StatusEntry: HISTORY}
        counts = COUNTS

The fold returns the new state, or a `@frozen` row holding it (a field typed as the table's row class)
beside entries to append (fields typed as a class in `appends`, None when there is none) and
counter deltas (a `dict` field: counter cell -> delta, applied to `counts`).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from operator import attrgetter
from typing import Any, ClassVar, get_origin, get_type_hints

from sqlalchemy import Connection, Table

from shopfloor.events.envelope import Envelope
from shopfloor.projections.frozen import field_names
from shopfloor.store.changes import Changes
from shopfloor.store.db import insert_ignore_tuples, select_in, upsert_tuples
from shopfloor.store.schema import ROW_CLASS, row_values, unwrap

CHUNK = 500  # keys per `IN (...)` list


def like(text: str) -> str:
    """A LIKE pattern (with `escape="\\"`) matching `text` anywhere, its wildcards taken literally."""
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def load(
    conn: Connection,
    table: Table,
    columns: Sequence[str],
    in_column: str,
    values: Iterable[Any],
    equal: Mapping[str, Any] | None = None,
) -> list[Any]:
    """Rows (tuples in `columns` order) whose `in_column` is one of `values`, `CHUNK` keys a query."""
    values = list(values)
    found: list[Any] = []
    for start in range(0, len(values), CHUNK):
        found.extend(select_in(conn, table, columns, equal or {}, in_column, values[start : start + CHUNK]))
    return found


def columns_of(table: Table) -> tuple[str, ...]:
    return tuple(table.c.keys())


def bump(conn: Connection, table: Table, deltas: Mapping[Any, int], column: str = "count") -> None:
    """Adds each delta to the `column` counter of the row keyed by its cell (a key tuple, or one key
    value), creating rows that are missing; deltas of zero write nothing."""
    keys = tuple(c.name for c in table.primary_key)
    rows = sorted(
        (*(cell if isinstance(cell, tuple) else (cell,)), delta) for cell, delta in deltas.items() if delta
    )
    upsert_tuples(conn, table, (*keys, column), rows, keys, set_=_adder(column))


@functools.cache
def _adder(column: str) -> Callable[[Any, str], dict[str, Any]]:
    """ON CONFLICT update adding the new row's count to the stored one (one function per column, so
    the compiled statement is cached)."""

    def add(stmt: Any, _dialect: str) -> dict[str, Any]:
        return {column: stmt.table.c[column] + stmt.excluded[column]}

    return add


_EVENT_MS = attrgetter("event_ms")


@dataclass(frozen=True)
class _Plan:
    """Where a fold result keeps the state, the entries to append and the counter deltas: a getter
    for each (the state's is None when the result is the state itself), and for each entry its table
    and row."""

    state: Callable[[Any], Any] | None
    appends: tuple[tuple[Callable[[Any], Any], Table, Callable[[Any], tuple[Any, ...]]], ...]
    counts: Callable[[Any], dict[Any, int]] | None


class EntityHandler:
    """A read model of one row per entity (keyed by the events' `entity_id()`), folded purely.

    A subclass declares it: `event_types`, `table` (derived from the state's row class by
    `table_of`), `fold` (a staticmethod), `view`, and optionally `appends`, `counts` and `mark`
    (the page key a state is shown under; default: its key)."""

    event_types: ClassVar[frozenset[str]]
    table: ClassVar[Table]
    view: ClassVar[str]
    appends: ClassVar[Mapping[type, Table]] = {}
    counts: ClassVar[Table | None] = None
    _plan: ClassVar[_Plan]
    _key: ClassVar[str]
    _columns: ClassVar[tuple[str, ...]]
    _row: ClassVar[Callable[[Any], tuple[Any, ...]]]
    _key_of: ClassVar[Callable[[Any], Any]]

    @staticmethod
    def fold(state: Any, event: Envelope) -> Any:
        raise NotImplementedError

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        (cls._key,) = (c.name for c in cls.table.primary_key)
        cls._columns = columns_of(cls.table)
        cls._row = row_values(cls.table)
        cls._key_of = attrgetter(cls._key)
        cls._plan = _plan_of(get_type_hints(cls.fold)["return"], cls.table.info[ROW_CLASS], cls.appends)
        if (cls._plan.counts is None) != (cls.counts is None):
            raise TypeError(f"{cls.__name__}: a fold that counts needs a counts table, and only such a fold")

    def mark(self, state: Any) -> str:
        return getattr(state, self._key)

    @property
    def tables(self) -> tuple[Table, ...]:
        return (self.table, *self.appends.values(), *((self.counts,) if self.counts is not None else ()))

    @property
    def views(self) -> tuple[str, ...]:
        return (self.view,)

    def apply(self, conn: Connection, events: Sequence[Envelope], changes: Changes) -> None:
        plan, key, columns, row_class = self._plan, self._key, self._columns, self.table.info[ROW_CLASS]
        event_ids = [e.data.entity_id() for e in events]
        ids = sorted(set(event_ids))
        at = columns.index(key)
        states = {row[at]: row_class(*row) for row in load(conn, self.table, columns, key, ids)}
        # the loop runs once per event: everything it calls is looked up before it
        fold, mark, get, key_of = self.fold, self.mark, states.get, self._key_of
        state_of, counts_of = plan.state, plan.counts
        appends = [(entry_of, table, row, []) for entry_of, table, row in plan.appends]
        deltas: dict[Any, int] = {}
        marked: set[str] = set()
        for event, entity_id in zip(events, event_ids, strict=True):
            result = fold(get(entity_id), event)
            state = result if state_of is None else state_of(result)
            states[key_of(state)] = state
            for entry_of, _, row, rows in appends:
                entry = entry_of(result)
                if entry is not None:
                    rows.append(row(entry))
            if counts_of is not None:
                for cell, delta in counts_of(result).items():
                    deltas[cell] = deltas.get(cell, 0) + delta
            marked.add(mark(state))
        upsert_tuples(conn, self.table, columns, [self._row(states[i]) for i in ids], [key])
        for _, table, _, rows in appends:
            insert_ignore_tuples(conn, table, columns_of(table), rows)
        if self.counts is not None:
            bump(conn, self.counts, deltas)
        if events:
            changes.mark_many(self.view, marked, min(map(_EVENT_MS, events)))


def _plan_of(result: Any, row_class: type, appends: Mapping[type, Table]) -> _Plan:
    if result is row_class:
        return _Plan(None, (), None)
    hints = get_type_hints(result)
    state, counts, appended = None, None, []
    for name in field_names(result):
        hint = hints[name]
        if get_origin(hint) is dict:
            counts = name
            continue
        python, _ = unwrap(hint)
        if python is row_class:
            state = name
        elif python in appends:
            table = appends[python]
            if any(table is other for _, other, _ in appended):  # one list per table keeps log order
                raise TypeError(f"{result.__name__}: two fields append to {table.name}")
            if table.info.get(ROW_CLASS) is not python:  # rows go in by position: only its class's fields fit
                raise TypeError(
                    f"{result.__name__}.{name}: {table.name} is not declared from {python.__name__}"
                )
            appended.append((attrgetter(name), table, row_values(table)))
        else:
            raise TypeError(f"{result.__name__}.{name}: neither the state, an append nor counts")
    if state is None:
        raise TypeError(f"{result.__name__} holds no {row_class.__name__}")
    return _Plan(attrgetter(state), tuple(appended), None if counts is None else attrgetter(counts))
