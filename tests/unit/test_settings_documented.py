"""The contract says the README lists every setting: every setting is listed, every one listed is
read, and none is accepted only to be ignored."""

from __future__ import annotations

import re
from pathlib import Path

from shopfloor.config import Settings

ROOT = Path(__file__).resolve().parents[2]
NAME = re.compile(r"SHOPFLOOR_[A-Z0-9_]+")


def _source(folder: str, leaving_out: str = "") -> str:
    return "\n".join(p.read_text() for p in sorted((ROOT / folder).rglob("*.py")) if p.name != leaving_out)


def test_the_readme_lists_every_setting() -> None:
    listed = set(NAME.findall((ROOT / "README.md").read_text()))
    settings = sorted(f"SHOPFLOOR_{field.upper()}" for field in Settings.model_fields)
    assert [name for name in settings if name not in listed] == []


def test_every_setting_is_read_somewhere() -> None:
    """A field nothing reads would take a value and change nothing."""
    code = _source("shopfloor", leaving_out="config.py")
    config = (ROOT / "shopfloor" / "config.py").read_text()
    unread = [
        field
        for field in Settings.model_fields
        if not re.search(rf"\.{field}\b", code) and not re.search(rf"self\.{field}\b", config)
    ]
    assert unread == []


def test_every_variable_the_docs_name_exists() -> None:
    code = _source("shopfloor") + _source("tests") + _source("bench")
    settings = {f"SHOPFLOOR_{field.upper()}" for field in Settings.model_fields}
    for doc in ("README.md", "docs/contract.md"):
        named = set(NAME.findall((ROOT / doc).read_text()))
        assert sorted(n for n in named if n not in settings and n not in code) == [], doc
