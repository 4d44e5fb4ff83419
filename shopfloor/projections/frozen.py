"""`@frozen`: a fold's row as an immutable `msgspec.Struct`, built in a tenth of a dataclass's time.

Folds build several rows per event (a state, an entry, a fact, the result holding them): as frozen
slotted dataclasses each cost about 1 µs to construct (every field set through a descriptor from
Python), a sixth of a work-order event's fold. A struct's constructor is C: about 0.1 µs for 14
fields. Equality, hashing, repr, pickling and the refusal of assignment are the struct's. A row's
fields hold values, other rows, or dicts of values (a fold's counter deltas): nothing that could
lead back to the row, so the garbage collector need not track it (a cycle through one would never
be collected).

`replace` and `as_dict` are the dataclass functions for such rows; `field_names` also reads a plain
dataclass's (tables are declared from both).
"""

from __future__ import annotations

import dataclasses
import inspect
from typing import Any, TypeVar, dataclass_transform

import msgspec

T = TypeVar("T")


@dataclass_transform(frozen_default=True)
def frozen(cls: type[T]) -> type[T]:
    """The class as an immutable struct: positional fields in declaration order, no defaults (a row
    is all its columns), its methods and properties kept. The struct is a new class built from the
    declaration's namespace: what would tie a method to the declared class, or need its bases, is
    refused rather than silently lost."""
    names = tuple(inspect.get_annotations(cls))
    if any(name in cls.__dict__ for name in names) or "__post_init__" in cls.__dict__:
        raise TypeError(f"{cls.__name__}: @frozen takes positional fields without defaults, no __post_init__")
    if cls.__bases__ != (object,) or any(
        "__class__" in getattr(getattr(value, "__code__", None), "co_freevars", ())
        for value in vars(cls).values()
    ):
        raise TypeError(f"{cls.__name__}: @frozen takes a plain class: no base classes, no super()")
    namespace = {k: v for k, v in cls.__dict__.items() if k not in ("__dict__", "__weakref__")}
    made = type(cls.__name__, (msgspec.Struct,), namespace, frozen=True, gc=False)
    return made  # type: ignore[return-value]


def field_names(cls: type) -> tuple[str, ...]:
    """A row class's fields, in constructor order (a struct's or a dataclass's)."""
    names: tuple[str, ...] | None = getattr(cls, "__struct_fields__", None)
    return names if names is not None else tuple(f.name for f in dataclasses.fields(cls))


def replace(row: T, **changes: Any) -> T:
    """A copy of a `@frozen` row with some fields changed."""
    return msgspec.structs.replace(row, **changes)  # type: ignore[type-var]


def as_dict(row: Any) -> dict[str, Any]:
    """A `@frozen` row's fields by name."""
    return msgspec.structs.asdict(row)
