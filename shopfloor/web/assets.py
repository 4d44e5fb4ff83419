"""Third-party browser assets: htmx, its SSE extension and Swagger UI from node_modules, Plotly
(and the stylesheet Plotly would otherwise inject, which our CSP refuses) from its wheel."""

from __future__ import annotations

import functools
import os
import re
from pathlib import Path

from fastapi import HTTPException
from fastapi.responses import FileResponse, Response

from shopfloor.pages import PLOTLY_JS

REPO_ROOT = Path(__file__).resolve().parents[2]


def _node_modules() -> Path:
    candidates = [
        os.environ.get("SHOPFLOOR_ASSETS_DIR"),
        Path.cwd() / "node_modules",
        REPO_ROOT / "node_modules",
    ]
    for candidate in candidates:
        if candidate and (Path(candidate) / "htmx.org").is_dir():
            return Path(candidate)
    raise RuntimeError(
        "browser assets are missing: run `npm ci` in the repository (dev/setup.sh does) "
        "or point SHOPFLOOR_ASSETS_DIR at a node_modules folder"
    )


# The rules Plotly inserts into a <style> element when it loads: `I0e={"X,X div":'...',...};for(bV in
# I0e)` in the minified bundle, with X and Y standing for the selectors below.
PLOTLY_RULES = re.compile(r"=(\{\"X,X div\":.*?\});for\(\w+ in \w+\)")
_STRING = r"\"(?:[^\"\\]|\\.)*\"|'(?:[^'\\]|\\.)*'"
JS_PAIR = re.compile(rf"({_STRING}|[A-Za-z_$][\w$]*):({_STRING})")


@functools.cache
def plotly_css() -> str:
    """Plotly's own global style rules as a stylesheet, read from the installed bundle, so pages can
    link them and tell Plotly (`<link id="plotly.js-style-global" class="no-inline-styles">`) not
    to inject them."""
    found = PLOTLY_RULES.search(PLOTLY_JS.read_text(encoding="utf-8"))
    if found is None:
        raise RuntimeError(f"no style rules found in {PLOTLY_JS}; has the Plotly bundle changed?")
    rules = []
    for key, value in JS_PAIR.findall(found.group(1)):
        key, value = key.strip("\"'"), value[1:-1]
        selector = re.sub(r"^,", " ,", key).replace("X", ".js-plotly-plot .plotly")
        rules.append(f"{selector.replace('Y', '.plotly-notifier')} {{{value}}}")
    return "\n".join(rules) + "\n"


def vendor_files() -> dict[str, Path]:
    modules = _node_modules()
    swagger = modules / "swagger-ui-dist"
    return {
        "htmx.min.js": modules / "htmx.org" / "dist" / "htmx.min.js",
        "sse.js": modules / "htmx-ext-sse" / "dist" / "sse.min.js"
        if (modules / "htmx-ext-sse" / "dist" / "sse.min.js").exists()
        else modules / "htmx-ext-sse" / "sse.js",
        "plotly.min.js": PLOTLY_JS,
        "swagger-ui-bundle.js": swagger / "swagger-ui-bundle.js",
        "swagger-ui.css": swagger / "swagger-ui.css",
    }


def vendor_route(files: dict[str, Path]):  # type: ignore[no-untyped-def]
    cache = {"Cache-Control": "public, max-age=86400"}

    async def vendor(name: str) -> Response:
        if name == "plotly.css":
            return Response(plotly_css(), media_type="text/css", headers=cache)
        path = files.get(name)
        if path is None:
            raise HTTPException(404, f"no vendor asset {name!r}")
        media_type = "text/css" if name.endswith(".css") else "text/javascript"
        return FileResponse(path, media_type=media_type, headers=cache)

    return vendor
