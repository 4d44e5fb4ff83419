"""`@frozen` rows behave as the frozen, slotted dataclass they replace (built here the usual way)."""

from __future__ import annotations

import inspect
import pickle
from dataclasses import FrozenInstanceError, InitVar, dataclass, field, replace

import pytest

from shopfloor.projections.frozen import frozen


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


def test_a_frozen_row_is_the_usual_dataclass_in_every_way_a_fold_relies_on() -> None:
    fast, usual = Fast("a", 1, None), Usual("a", 1, None)
    assert repr(fast).removeprefix("Fast") == repr(usual).removeprefix("Usual")
    assert fast == Fast(key="a", count=1, note=None) and fast != Fast("a", 2, None)
    assert hash(fast) == hash(Fast("a", 1, None))
    assert replace(fast, count=5) == Fast("a", 5, None)
    assert pickle.loads(pickle.dumps(fast)) == fast
    assert not hasattr(fast, "__dict__")
    with pytest.raises(FrozenInstanceError):
        fast.count = 2  # type: ignore[misc]
    with pytest.raises(TypeError):
        Fast("a", 1)  # type: ignore[call-arg]


def test_what_the_constructor_would_not_honour_is_refused_at_declaration() -> None:
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

    with pytest.raises(TypeError, match="positional fields"):

        @frozen
        class Hidden:
            key: str
            count: int = field(init=False)

    with pytest.raises(TypeError, match="positional fields"):

        @frozen
        class Passed:
            key: str
            scale: InitVar[int]


def test_fields_named_like_the_constructors_own_names_are_plain_fields() -> None:
    @frozen
    class Odd:
        self: str
        _set_key: int
        key: str

    odd = Odd("s", 1, "k")
    assert (odd.self, odd._set_key, odd.key) == ("s", 1, "k")
    assert list(inspect.signature(Odd).parameters) == ["self", "_set_key", "key"]
