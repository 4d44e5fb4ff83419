"""Jinja2 environment: autoescaped everywhere, so event text can never become markup."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from fastapi.templating import Jinja2Templates

from shopfloor.web.assets import plotly_style_guards

TEMPLATES_DIR = Path(__file__).resolve().parent.parent / "templates"


def _clock(ms: int | None) -> str:
    if ms is None:
        return "–"
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%H:%M:%S")


def _stamp(ms: int | None) -> str:
    if ms is None:
        return ""
    return datetime.fromtimestamp(ms / 1000, UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


templates = Jinja2Templates(directory=str(TEMPLATES_DIR))
templates.env.autoescape = True
templates.env.filters["clock"] = _clock
templates.env.filters["stamp"] = _stamp
templates.env.globals["plotly_style_guards"] = plotly_style_guards
