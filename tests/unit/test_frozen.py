"""`@frozen` rows (msgspec structs) behave as the frozen, slotted dataclass they replaced (built here
the usual way) in every way a fold or a table relies on."""

from __future__ import annotations

import gc
import inspect
import pickle
from dataclasses import asdict, dataclass, field

import pytest

from shopfloor.projections.frozen import as_dict, field_names, frozen, replace
from shopfloor.store.registry import TABLES
from shopfloor.store.schema import ROW_CLASS, row_values


@frozen
class Fast:
    key: str
    count: int
    note: str | None


@dataclass(frozen=True, slots=True)
class Usual:
    key: str
    count: int
    note: str | None


def test_a_frozen_row_behaves_as_the_usual_dataclass_in_every_way_a_fold_relies_on() -> None:
    fast, usual = Fast("a", 1, None), Usual("a", 1, None)
    assert repr(fast).removeprefix("Fast") == repr(usual).removeprefix("Usual")
    assert fast == Fast(key="a", count=1, note=None) and fast != Fast("a", 2, None)
    assert hash(fast) == hash(Fast("a", 1, None))
    assert replace(fast, count=5) == Fast("a", 5, None)
    assert as_dict(fast) == asdict(usual)
    assert field_names(Fast) == field_names(Usual) == ("key", "count", "note")
    assert pickle.loads(pickle.dumps(fast)) == fast
    assert not hasattr(fast, "__dict__")
    assert not gc.is_tracked(fast)  # rows hold plain values: nothing for the collector to walk
    with pytest.raises(AttributeError):
        fast.count = 2  # type: ignore[misc]
    with pytest.raises(TypeError):
        Fast("a", 1)  # type: ignore[call-arg]


def test_a_rows_methods_and_properties_are_kept() -> None:
    @frozen
    class Span:
        start: int
        end: int

        @property
        def length(self) -> int:
            return self.end - self.start

        def shifted(self, by: int) -> Span:
            return Span(self.start + by, self.end + by)

    assert Span(2, 5).length == 3 and Span(2, 5).shifted(1) == Span(3, 6)


def test_defaults_and_post_init_are_refused_at_declaration_a_row_is_all_its_columns() -> None:
    with pytest.raises(TypeError, match="without defaults"):

        @frozen
        class WithDefault:
            key: str
            count: int = 0

    with pytest.raises(TypeError, match="no __post_init__"):

        @frozen
        class Checked:
            key: str

            def __post_init__(self) -> None:
                raise AssertionError("never run by the fast constructor")

    with pytest.raises(TypeError, match="without defaults"):

        @frozen
        class Hidden:
            key: str
            count: int = field(init=False)


def test_fields_named_like_the_constructors_own_names_are_plain_fields() -> None:
    @frozen
    class Odd:
        self: str
        _set_key: int
        key: str

    odd = Odd("s", 1, "k")
    assert (odd.self, odd._set_key, odd.key) == ("s", 1, "k")
    assert list(inspect.signature(Odd).parameters) == ["self", "_set_key", "key"]


def test_what_would_be_lost_building_the_struct_is_refused() -> None:
    class Base:
        pass

    with pytest.raises(TypeError, match="plain class"):

        @frozen
        class Derived(Base):
            key: str

    with pytest.raises(TypeError, match="plain class"):

        @frozen
        class Calling:
            key: str

            def __repr__(self) -> str:
                return super().__repr__()


def test_a_rows_values_are_its_tables_columns_by_name_for_every_table() -> None:
    """A row goes into its table as one tuple in column order (a struct's by position): each value
    must land in the column of its own name."""
    declared = [table for table in TABLES if ROW_CLASS in table.info]
    assert len(declared) > 20  # every read model's tables, not a few
    for table in declared:
        row_class = table.info[ROW_CLASS]
        names = field_names(row_class)
        row = row_class(*(f"{table.name}.{name}" for name in names))
        assert row_values(table)(row) == tuple(f"{table.name}.{column.name}" for column in table.c)
