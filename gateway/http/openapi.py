"""The OpenAPI 3.1 document, built from the same ``ApiRoute`` list that is served."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from gateway import __version__
from gateway.http.route import ApiRoute

_ERROR = {
    "type": "object",
    "properties": {
        "error": {
            "type": "object",
            "properties": {"code": {"type": "string"}, "message": {"type": "string"}},
            "required": ["code", "message"],
        }
    },
}


def _operation(route: ApiRoute) -> dict[str, Any]:
    params: list[dict[str, Any]] = [
        {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
        for name in re.findall(r"{(\w+)}", route.path)
    ]
    params += [{"name": q, "in": "query", "schema": {"type": "string"}} for q in route.query]
    params += [{"name": h, "in": "header", "schema": {"type": "string"}} for h in route.headers]
    op: dict[str, Any] = {
        "summary": route.summary,
        "description": f"Needs the `{route.role.label}` role or higher.",
        "parameters": params,
        "responses": {
            str(route.status): {"description": "success"},
            "4XX": {"description": "error", "content": {"application/json": {"schema": _ERROR}}},
        },
    }
    if route.body is not None:
        op["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": route.body.model_json_schema()}},
        }
    return op


def openapi_document(routes: Sequence[ApiRoute], prefix: str) -> dict[str, Any]:
    paths: dict[str, dict[str, Any]] = {}
    for route in routes:
        paths.setdefault(prefix + route.path, {})[route.method.lower()] = _operation(route)
    return {
        "openapi": "3.1.0",
        "info": {"title": "Palm Gateway API", "version": __version__},
        "components": {"securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}}},
        "security": [{"bearer": []}],
        "paths": paths,
    }
