"""The OpenAPI 3.1 document, built from the same ``ApiRoute`` list that is served.

Request bodies come from the routes' pydantic models (their ``$defs`` hoisted into
``components.schemas``, so every ``$ref`` resolves in the document); answers,
parameters and the error shape from ``gateway.http.schemas``. Every operation lists its
success status and ``4XX`` with the error body: palm never answers 5xx on purpose
(503 only for a Redis outage), and schemathesis checks both claims in CI.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from gateway import __version__
from gateway.http import schemas
from gateway.http.route import ApiRoute

_REF = "#/components/schemas/{model}"


def _json(schema: schemas.Schema) -> dict[str, Any]:
    return {"application/json": {"schema": schema}}


def _path_param(route: ApiRoute, name: str) -> dict[str, Any]:
    schema = next(
        (s for prefix, s in schemas.PATH_IDS.items() if route.path.startswith(prefix)),
        schemas.STR,
    )
    return {"name": name, "in": "path", "required": True, "schema": schema}


def _parameters(route: ApiRoute) -> list[dict[str, Any]]:
    params = [_path_param(route, name) for name in re.findall(r"{(\w+)}", route.path)]
    params += [
        {"name": q, "in": "query", "schema": schemas.QUERY.get((route.path, q), schemas.STR)}
        for q in route.query
    ]
    params += [
        {"name": h, "in": "header", "schema": schemas.HEADERS.get(h, schemas.STR)}
        for h in route.headers
    ]
    return params


def _body(route: ApiRoute, components: dict[str, Any]) -> dict[str, Any] | None:
    if route.body is not None:
        schema = route.body.model_json_schema(ref_template=_REF)
        components.update(schema.pop("$defs", {}))
        return {"required": True, "content": _json(schema)}
    optional = schemas.OPTIONAL_BODIES.get((route.method, route.path))
    return {"required": False, "content": _json(optional)} if optional else None


def _operation(route: ApiRoute, components: dict[str, Any]) -> dict[str, Any]:
    answer = schemas.RESPONSES.get((route.method, route.path), {})
    op: dict[str, Any] = {
        "summary": route.summary,
        "description": f"Needs the `{route.role.label}` role or higher.",
        "parameters": _parameters(route),
        "responses": {
            str(route.status): {"description": "success", "content": _json(answer)},
            "4XX": {
                "description": "bad input, no or bad token, role too low, not found, conflict",
                "content": _json({"$ref": "#/components/schemas/Error"}),
            },
        },
    }
    body = _body(route, components)
    if body is not None:
        op["requestBody"] = body
    return op


def openapi_document(routes: Sequence[ApiRoute], prefix: str) -> dict[str, Any]:
    components: dict[str, Any] = {"Error": schemas.ERROR}
    paths: dict[str, dict[str, Any]] = {}
    for route in routes:
        paths.setdefault(prefix + route.path, {})[route.method.lower()] = _operation(
            route, components
        )
    return {
        "openapi": "3.1.0",
        "info": {"title": "Palm Gateway API", "version": __version__},
        "components": {
            "schemas": components,
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
        "security": [{"bearer": []}],
        "paths": paths,
    }
