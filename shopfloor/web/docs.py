"""Documentation pages served by the app itself, under our CSP: Swagger UI for the HTTP API (assets
from node_modules, its start-up in a static file) and the AsyncAPI description of the topics."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, JSONResponse

from shopfloor.contracts.asyncapi import document
from shopfloor.pages import templates


def router(event_topics: dict[str, str]) -> APIRouter:
    """`event_topics`: the configured topic of each event type, as the AsyncAPI document names them."""
    api = APIRouter(include_in_schema=False)
    asyncapi = document(event_topics)

    @api.get("/docs", response_class=HTMLResponse)
    def swagger(request: Request) -> HTMLResponse:
        return templates.TemplateResponse(request, "docs/swagger.html", {"view": "docs"})

    @api.get("/asyncapi.json")
    def asyncapi_json() -> JSONResponse:
        return JSONResponse(asyncapi)

    @api.get("/asyncapi", response_class=HTMLResponse)
    def asyncapi_page(request: Request) -> HTMLResponse:
        return templates.TemplateResponse(
            request, "docs/asyncapi.html", {"view": "asyncapi", **outline(asyncapi)}
        )

    return api


def outline(doc: dict[str, Any]) -> dict[str, Any]:
    """What the AsyncAPI page lists: per channel its messages, per message its data fields."""
    schemas = doc["components"]["schemas"]
    channels = []
    for channel in doc["channels"].values():
        messages = []
        for name in channel["messages"]:
            message = doc["components"]["messages"][name]
            messages.append(
                {
                    "name": name,
                    "summary": message["summary"],
                    "key": message["bindings"]["kafka"]["key"]["description"],
                    "fields": fields(schemas[name], schemas),
                }
            )
        channels.append(
            {"address": channel["address"], "description": channel["description"], "messages": messages}
        )
    envelope = schemas["CloudEvent"]
    return {
        "info": doc["info"],
        "channels": channels,
        "envelope": fields(envelope, schemas),
        "headers": schemas["CloudEventHeaders"],
    }


def fields(schema: dict[str, Any], schemas: dict[str, Any]) -> list[dict[str, str]]:
    """One row per property: name, type in words, required or not, limits."""
    required = set(schema.get("required", ()))
    return [
        {"name": name, "type": _type(prop, schemas), "required": "required" if name in required else ""}
        for name, prop in schema.get("properties", {}).items()
    ]


def _type(prop: dict[str, Any], schemas: dict[str, Any]) -> str:
    if "$ref" in prop:
        target = prop["$ref"].rsplit("/", 1)[-1]
        inner = schemas.get(target, {})
        if "enum" in inner:
            return "one of " + ", ".join(str(v) for v in inner["enum"])
        return target
    if "anyOf" in prop:
        kinds = [_type(p, schemas) for p in prop["anyOf"] if p.get("type") != "null"]
        return " or ".join(kinds)
    if "enum" in prop:
        return "one of " + ", ".join(str(v) for v in prop["enum"])
    if "const" in prop:
        return repr(prop["const"])
    kind = prop.get("type", "any")
    if kind == "array":
        return f"list of {_type(prop.get('items', {}), schemas)}"
    extra = []
    if "format" in prop:
        extra.append(prop["format"])
    if "minimum" in prop:
        extra.append(f"≥ {prop['minimum']}")
    if "exclusiveMinimum" in prop:
        extra.append(f"> {prop['exclusiveMinimum']}")
    return f"{kind} ({', '.join(extra)})" if extra else str(kind)
