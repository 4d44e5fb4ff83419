"""The package's layering, checked on its source: every `import` of a shopfloor module (function-local
and type-checking ones included) goes to the importer's own layer or one below, and no modules import
each other in a circle. The table below is the layering stated in `shopfloor/__init__.py`."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import shopfloor

PACKAGE = Path(shopfloor.__file__).resolve().parent

# Lowest first. A module belongs to the layer of its longest matching prefix; it may import its own
# layer and those before it. Placing a new top-level module here is part of adding it.
LAYERS: tuple[tuple[str, ...], ...] = (
    ("shopfloor", "shopfloor.metrics", "shopfloor.transport"),  # no shopfloor imports
    ("shopfloor.events",),
    ("shopfloor.projections",),
    ("shopfloor.config", "shopfloor.alarm_config"),
    ("shopfloor.store", "shopfloor.auth.tables"),  # sign-in's table declarations are store-level
    ("shopfloor.observability",),
    (
        "shopfloor.live",
        "shopfloor.consumers",
        "shopfloor.simulator",
        "shopfloor.alarm_notify",
        "shopfloor.contracts",
        "shopfloor.pages",
    ),
    ("shopfloor.rebuild", "shopfloor.evaluation", "shopfloor.history"),
    ("shopfloor.runtime",),
    ("shopfloor.auth",),
    ("shopfloor.web", "shopfloor.history.web"),
    (
        "shopfloor.cli",
        "shopfloor.__main__",
        "shopfloor.evaluation_cli",
        "shopfloor.auth.cli",
        "shopfloor.rebuild.cli",
        "shopfloor.contracts.cli",
    ),
)

# Pairs of packages never to meet, whatever the table says: the store keeps no knowledge of sign-in.
FORBIDDEN: tuple[tuple[str, str], ...] = (("shopfloor.store", "shopfloor.auth"),)


def modules(root: Path = PACKAGE) -> dict[str, Path]:
    found = {}
    for path in sorted(root.rglob("*.py")):
        parts = list(path.relative_to(root.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join(parts)] = path
    return found


def imports(name: str, path: Path, known: dict[str, Path]) -> Iterator[tuple[str, int]]:
    """(imported shopfloor module, line) for every import statement anywhere in the module."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            targets = [base] + [f"{base}.{alias.name}" for alias in node.names]
        else:
            continue
        for target in targets:
            while target and target not in known:  # `from a.b import name`: name may be a module or not
                target = target.rpartition(".")[0]
            if target and target != name:
                yield target, node.lineno


def graph(root: Path = PACKAGE) -> dict[str, dict[str, int]]:
    known = modules(root)
    return {name: dict(imports(name, path, known)) for name, path in known.items()}


def within(module: str, prefix: str) -> bool:
    """The prefix itself and its submodules; the package root only itself (every module is under it)."""
    return module == prefix or (prefix != "shopfloor" and module.startswith(prefix + "."))


def layer(module: str) -> int:
    best, rank = "", -1
    for index, prefixes in enumerate(LAYERS):
        for prefix in prefixes:
            if within(module, prefix) and len(prefix) > len(best):
                best, rank = prefix, index
    return rank


def upward(edges: dict[str, dict[str, int]]) -> list[str]:
    """Imports of a higher layer, and imports between a FORBIDDEN pair."""
    return [
        f"{source}:{line} imports {target} (layer {layer(source)} -> {layer(target)})"
        for source, targets in sorted(edges.items())
        for target, line in sorted(targets.items())
        if layer(target) > layer(source)
        or any(within(source, low) and within(target, high) for low, high in FORBIDDEN)
    ]


def cycles(edges: dict[str, dict[str, int]]) -> list[list[str]]:
    """For every import that closes a circle, the path around it (depth-first, iterative)."""
    found: list[list[str]] = []
    state: dict[str, int] = {}  # 1 on the current path, 2 finished
    for start in sorted(edges):
        if start in state:
            continue
        path = [start]
        pending = [iter(sorted(edges[start]))]
        state[start] = 1
        while pending:
            target = next(pending[-1], None)
            if target is None:
                state[path.pop()] = 2
                pending.pop()
            elif state.get(target) == 1:
                found.append([*path[path.index(target) :], target])
            elif target not in state:
                state[target] = 1
                path.append(target)
                pending.append(iter(sorted(edges.get(target, {}))))
    return found


def test_every_module_has_a_layer() -> None:
    unplaced = [m for m in modules() if layer(m) < 0]
    assert not unplaced, "modules missing from LAYERS:\n" + "\n".join(unplaced)


def test_no_module_imports_a_layer_above_its_own() -> None:
    found = upward(graph())
    assert not found, "upward imports:\n" + "\n".join(found)


def test_no_import_cycle() -> None:
    found = [" -> ".join(cycle) for cycle in cycles(graph())]
    assert not found, "import cycles:\n" + "\n".join(found)


def test_the_check_catches_an_upward_import_and_a_cycle(tmp_path: Path) -> None:
    """Against a small hand-made package: a store module reaching up to web, one reaching sideways into
    sign-in's tables, and two that import each other (one of them inside a function)."""
    pkg = tmp_path / "shopfloor"
    for folder in ("store", "web", "auth"):
        (pkg / folder).mkdir(parents=True)
        (pkg / folder / "__init__.py").write_text("")
    (pkg / "__init__.py").write_text("")
    (pkg / "store" / "a.py").write_text(
        "from shopfloor.store import b\nfrom shopfloor.auth.tables import T\n"
    )
    (pkg / "auth" / "tables.py").write_text("T = 1\n")
    (pkg / "store" / "b.py").write_text("def f():\n    from . import a\n\n\nimport shopfloor.web.app\n")
    (pkg / "web" / "app.py").write_text("")
    edges = graph(pkg)
    assert upward(edges) == [
        "shopfloor.store.a:2 imports shopfloor.auth.tables (layer 4 -> 4)",
        "shopfloor.store.b:5 imports shopfloor.web.app (layer 4 -> 10)",
    ]
    assert cycles(edges) == [["shopfloor.store.a", "shopfloor.store.b", "shopfloor.store.a"]]
