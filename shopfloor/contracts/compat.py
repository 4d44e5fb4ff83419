"""BACKWARD compatibility of JSON Schemas: can the new schema (reader) read everything the old one
(writer) allowed? That is what a schema registry's BACKWARD rule guards, because events already in
the log, and producers not yet upgraded, keep sending old data.

Rejected: a new required field, an optional field made required, a field removed (old data carries
it and it would be silently dropped), a type narrowed (number -> integer, a type dropped from a
union, null no longer allowed), an enum or const narrowed, tighter length/range/size limits, a new
pattern or format, an event type removed. Accepted: new optional fields, widened types and enums,
looser limits, new event types, changed titles, descriptions and defaults.

It covers the JSON Schema subset pydantic emits (type, properties, required, anyOf/oneOf, enum,
const, $ref/$defs, items, additionalProperties, string/number/array limits, pattern, format).
"""

from __future__ import annotations

from typing import Any

Schema = dict[str, Any]

LOWER_BOUNDS = ("minLength", "minimum", "exclusiveMinimum", "minItems", "minProperties")
MAX_DEPTH = 32
UPPER_BOUNDS = ("maxLength", "maximum", "exclusiveMaximum", "maxItems", "maxProperties")


def check_all(old: dict[str, Schema], new: dict[str, Schema]) -> list[str]:
    """Problems across a whole set (name -> schema); an empty list means compatible."""
    problems: list[str] = []
    for name, writer in sorted(old.items()):
        reader = new.get(name)
        if reader is None:
            problems.append(f"{name}: removed (events of this type already in the log could not be read)")
            continue
        problems += [f"{name}: {p}" for p in incompatibilities(writer, reader)]
    return problems


def incompatibilities(writer: Schema, reader: Schema) -> list[str]:
    """Why `reader` cannot read all data valid under `writer` (empty when it can)."""
    return _Compare(writer, reader).compare(writer, reader, "")


class _Compare:
    def __init__(self, writer_root: Schema, reader_root: Schema) -> None:
        self._roots = (writer_root, reader_root)

    def _resolve(self, schema: Any, side: int) -> Schema:
        root = self._roots[side]
        hops = 0
        while isinstance(schema, dict) and "$ref" in schema and hops < 32:
            ref = schema["$ref"]
            if not ref.startswith("#/"):
                raise ValueError(f"only local $ref is supported, got {ref!r}")
            target: Any = root
            for part in ref[2:].split("/"):
                target = target[part]
            schema = {**target, **{k: v for k, v in schema.items() if k != "$ref"}}
            hops += 1
        if schema is True or schema is None:
            return {}
        if schema is False:
            return {"not": {}}
        return schema

    def compare(self, writer: Any, reader: Any, path: str) -> list[str]:
        writer, reader = self._resolve(writer, 0), self._resolve(reader, 1)
        if path.count(".") + path.count("[") > MAX_DEPTH:  # recursive definitions: stop unfolding
            return []
        where = path or "(root)"
        if not reader:
            return []
        if writer.get("not") == {}:
            return []
        w_branches = _branches(writer)
        if len(w_branches) > 1:
            return [p for branch in w_branches for p in self.compare(branch, reader, path)]
        r_branches = _branches(reader)
        if len(r_branches) > 1:
            attempts = [self.compare(writer, branch, path) for branch in r_branches]
            if any(not a for a in attempts):
                return []
            return [f"{where}: no alternative of the new schema accepts the old {_describe(writer)}"]
        problems = self._types(writer, reader, where)
        if problems:
            return problems
        problems += self._values(writer, reader, where)
        problems += self._bounds(writer, reader, where)
        problems += self._object(writer, reader, path)
        problems += self._array(writer, reader, path)
        return problems

    def _types(self, writer: Schema, reader: Schema, where: str) -> list[str]:
        r_types = _types(reader)
        if r_types is None:
            return []
        w_types = _types(writer)
        if w_types is None:
            return [f"{where}: type narrowed from any to {sorted(r_types)}"]
        widened = r_types | ({"integer"} if "number" in r_types else set())
        lost = w_types - widened
        if lost:
            return [f"{where}: type narrowed, {sorted(lost)} no longer accepted"]
        return []

    def _values(self, writer: Schema, reader: Schema, where: str) -> list[str]:
        allowed = _allowed_values(reader)
        if allowed is None:
            return []
        old = _allowed_values(writer)
        if old is None:
            return [f"{where}: values narrowed to {_short(allowed)}"]
        removed = [v for v in old if v not in allowed]
        return [f"{where}: values {_short(removed)} no longer accepted"] if removed else []

    def _bounds(self, writer: Schema, reader: Schema, where: str) -> list[str]:
        problems = []
        for name in LOWER_BOUNDS:
            if name in reader and (name not in writer or writer[name] < reader[name]):
                problems.append(f"{where}: {name} tightened to {reader[name]} (was {writer.get(name)})")
        for name in UPPER_BOUNDS:
            if name in reader and (name not in writer or writer[name] > reader[name]):
                problems.append(f"{where}: {name} tightened to {reader[name]} (was {writer.get(name)})")
        for name in ("pattern", "format", "multipleOf"):
            if name in reader and reader[name] != writer.get(name):
                problems.append(
                    f"{where}: {name} {reader[name]!r} added or changed (was {writer.get(name)!r})"
                )
        return problems

    def _object(self, writer: Schema, reader: Schema, path: str) -> list[str]:
        where = path or "(root)"
        w_props: dict[str, Any] = writer.get("properties", {})
        r_props: dict[str, Any] = reader.get("properties", {})
        if not w_props and not r_props and "required" not in reader:
            return []
        problems = []
        w_required, r_required = set(writer.get("required", [])), set(reader.get("required", []))
        for name in sorted(r_required - w_required):
            state = "optional" if name in w_props else "absent"
            problems.append(f"{_join(path, name)}: now required (was {state}; old data may lack it)")
        for name in sorted(set(w_props) - set(r_props)):
            problems.append(f"{_join(path, name)}: removed (old data carries it)")
        for name in sorted(set(w_props) & set(r_props)):
            problems += self.compare(w_props[name], r_props[name], _join(path, name))
        extra = reader.get("additionalProperties", True)
        if extra is False and writer.get("additionalProperties", True) is not False:
            problems.append(f"{where}: additional properties no longer allowed")
        return problems

    def _array(self, writer: Schema, reader: Schema, path: str) -> list[str]:
        if "items" not in reader:
            return []
        return self.compare(writer.get("items", {}), reader["items"], f"{path}[]")


def _branches(schema: Schema) -> list[Any]:
    for name in ("anyOf", "oneOf"):
        if name in schema:
            return list(schema[name])
    return [schema]


def _types(schema: Schema) -> set[str] | None:
    if "type" in schema:
        value = schema["type"]
        return set(value) if isinstance(value, list) else {value}
    if "const" in schema:
        return {_json_type(schema["const"])}
    if "enum" in schema:
        return {_json_type(v) for v in schema["enum"]}
    return None


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    return "array" if isinstance(value, list) else "object"


def _allowed_values(schema: Schema) -> list[Any] | None:
    if "const" in schema:
        return [schema["const"]]
    if "enum" in schema:
        return list(schema["enum"])
    return None


def _describe(schema: Schema) -> str:
    types = _types(schema)
    return "/".join(sorted(types)) if types else "value"


def _short(values: list[Any]) -> str:
    text = ", ".join(repr(v) for v in values[:8])
    return f"[{text}{', ...' if len(values) > 8 else ''}]"


def _join(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name
