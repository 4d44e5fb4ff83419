"""Jinja2 environment: autoescaped everywhere, so event text can never become markup.

A top-level module below `web` and `auth`: both render pages with it, and sign-in pages need no web import.
"""

from __future__ import annotations

import functools
import re
from datetime import UTC, datetime
from pathlib import Path

import plotly
from fastapi.templating import Jinja2Templates

TEMPLATES_DIR = Path(__file__).resolve().parent / "templates"
PLOTLY_JS = Path(plotly.__file__).parent / "package_data" / "plotly.min.js"
# Other stylesheets the bundle injects once unless an element with their id exists (MapLibre's).
INJECTED_STYLE = re.compile(
    r'getElementById\("([0-9a-f]{32,})"\)\)\{var \w+=document\.createElement\("style"\)'
)


@functools.cache
def plotly_style_guards() -> tuple[str, ...]:
    """Ids that, present in the page, stop Plotly injecting styles we do not use (maps)."""
    return tuple(INJECTED_STYLE.findall(PLOTLY_JS.read_text(encoding="utf-8")))


def _clock(ms: int | None) -> str:
    return "–" if ms is None else _local(ms, "%H:%M:%S")


def _stamp(ms: int | None) -> str:
    if ms is None:
        return ""
    return datetime.fromtimestamp(ms / 1000, UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def _plural(count: int, noun: str) -> str:
    """ "1 alert", "3 alerts": a count and its noun as a person would write them."""
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


def _local(ms: int | None, fmt: str = "%H:%M") -> str:
    """Plant-local time; UTC until the web app sets the plant's zone (`lines.use_plant_time`)."""
    if ms is None:
        return ""
    return datetime.fromtimestamp(ms / 1000, UTC).strftime(fmt)


templates = Jinja2Templates(directory=str(TEMPLATES_DIR))
templates.env.autoescape = True
templates.env.filters["clock"] = _clock
templates.env.filters["stamp"] = _stamp
templates.env.filters["plural"] = _plural
templates.env.filters["local"] = _local


def _moment(ms: int | None) -> str:
    """Plant-local date and time to the second, for a time that may fall on any day (the `local`
    filter of the moment, which the web app points at the plant's zone)."""
    return templates.env.filters["local"](ms, "%Y-%m-%d %H:%M:%S")


templates.env.filters["moment"] = _moment
templates.env.globals["plotly_style_guards"] = plotly_style_guards
