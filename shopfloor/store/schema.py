"""The one way a table is declared here: from the class whose instances are its rows.

A fold's state, history entry or fact is a `@frozen` row (bookkeeping rows are frozen dataclasses);
its table is derived from it, so the two cannot drift apart (a drift would only show at run time,
as `State(**row)` failing). Column
names and order, Python types and optionality come from the fields: `str` is VARCHAR, `int` INTEGER
(BIGINT for `*_ms` epoch milliseconds), `float` FLOAT, `bool` BOOLEAN, `bytes` a BLOB/BYTEA, and
`X | None` nullable. `types` overrides a column's type where the Python type does not say enough
(TEXT for long strings, a length, BIGINT counters). An integer key declared `int | None` is
assigned by the database (SERIAL); any other key comes from the row.
"""

from __future__ import annotations

import types as pytypes
from collections.abc import Callable, Iterable, Mapping
from operator import attrgetter
from typing import Any, Union, get_args, get_origin, get_type_hints

import msgspec
from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Float,
    Index,
    Integer,
    LargeBinary,
    PrimaryKeyConstraint,
    String,
    Table,
    UniqueConstraint,
)
from sqlmodel import SQLModel

from shopfloor.projections.frozen import field_names

# The tables still declared as SQLModel classes (sign-in, rebuild progress) share this metadata.
METADATA = SQLModel.metadata
ROW_CLASS = "row_class"  # Table.info key: the row class a table was derived from


def row_values(table: Table) -> Callable[[Any], tuple[Any, ...]]:
    """A row's column values in the table's order, from an instance of the class it was declared
    from: a struct's fields in one C call (its fields are the columns, in order), a fifth of the time
    of one `getattr` each for ten columns. The struct's values go by position, so only an instance of
    that class may be given; any other row class gets one `getattr` per column."""
    columns = tuple(table.c.keys())
    if getattr(table.info.get(ROW_CLASS), "__struct_fields__", None) == columns:
        return msgspec.structs.astuple
    if len(columns) == 1:  # attrgetter of one name gives the value itself
        (column,) = columns
        return lambda row: (getattr(row, column),)
    return attrgetter(*columns)


_SQL_TYPES: dict[type, Any] = {str: String, int: Integer, float: Float, bool: Boolean, bytes: LargeBinary}


def table_of(
    cls: type,
    name: str,
    *,
    key: Iterable[str],
    index: Iterable[str] = (),
    indexes: Mapping[str, Iterable[str]] | None = None,
    unique: Iterable[Iterable[str]] = (),
    types: Mapping[str, Any] | None = None,
    without_rowid: bool = False,
) -> Table:
    """The table `name` with one column per field of the row class `cls`, primary key `key` (in that
    column order: a key's leading columns are what its lookups and ranges can use);
    `index` columns get a single-column index each (`ix_<table>_<column>`), `indexes` are named
    multi-column ones, `unique` column groups a UNIQUE constraint each. `without_rowid` stores a
    SQLite table of many small rows under a text key once, in key order, instead of as rows plus a
    copy of every key in the key's index: such tables (trend buckets, applied ids) are most of a
    store's and a snapshot's bytes."""
    key, index, overrides = tuple(key), set(index), dict(types or {})
    hints, names = get_type_hints(cls), field_names(cls)
    columns = []
    for column in names:
        python, optional = unwrap(hints[column])
        sql_type = overrides.pop(column, None)
        if sql_type is None:
            sql_type = BigInteger if python is int and column.endswith("_ms") else _SQL_TYPES[python]
        in_key = column in key
        columns.append(
            Column(
                column,
                sql_type,
                primary_key=in_key,
                nullable=optional and not in_key,
                autoincrement=optional if in_key and python is int else "auto",
                index=column in index or None,
            )
        )
    unknown = (set(key) | index | set(overrides)) - set(names)
    if unknown:
        raise ValueError(f"{name}: {sorted(unknown)} are not fields of {cls.__name__}")
    table = Table(
        name,
        METADATA,
        *columns,
        PrimaryKeyConstraint(*key),
        *(UniqueConstraint(*group) for group in unique),
        sqlite_with_rowid=not without_rowid,
    )
    for index_name, names in (indexes or {}).items():
        Index(index_name, *(table.c[n] for n in names))
    table.info[ROW_CLASS] = cls
    return table


def unwrap(hint: Any) -> tuple[type, bool]:
    """(the Python type, whether None is allowed) of a field annotation such as `int | None`."""
    if get_origin(hint) in (Union, pytypes.UnionType):
        args = [a for a in get_args(hint) if a is not type(None)]
        if len(args) != 1:
            raise TypeError(f"a column holds one type, not {hint}")
        return args[0], True
    return hint, False
