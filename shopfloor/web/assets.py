"""Third-party browser assets: htmx and its SSE extension from node_modules, Plotly from its wheel."""

from __future__ import annotations

import os
from pathlib import Path

import plotly
from fastapi import HTTPException
from fastapi.responses import FileResponse

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


def vendor_files() -> dict[str, Path]:
    modules = _node_modules()
    return {
        "htmx.min.js": modules / "htmx.org" / "dist" / "htmx.min.js",
        "sse.js": modules / "htmx-ext-sse" / "dist" / "sse.min.js"
        if (modules / "htmx-ext-sse" / "dist" / "sse.min.js").exists()
        else modules / "htmx-ext-sse" / "sse.js",
        "plotly.min.js": Path(plotly.__file__).parent / "package_data" / "plotly.min.js",
    }


def vendor_route(files: dict[str, Path]):  # type: ignore[no-untyped-def]
    async def vendor(name: str) -> FileResponse:
        path = files.get(name)
        if path is None:
            raise HTTPException(404, f"no vendor asset {name!r}")
        return FileResponse(
            path, media_type="text/javascript", headers={"Cache-Control": "public, max-age=86400"}
        )

    return vendor
