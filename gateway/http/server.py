"""Build and serve palm's aiohttp application."""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from aiohttp import web
from pydantic import BaseModel, ValidationError

from gateway.accounts import TokenStore
from gateway.adapter import Adapter
from gateway.console.web import mount as mount_console
from gateway.errors import Forbidden, GatewayError, InputError, Unauthorized
from gateway.http.api import all_routes
from gateway.http.openapi import openapi_document
from gateway.http.route import ApiRequest, ApiRoute
from gateway.http.system import system_routes
from gateway.runtime import Runtime
from gateway.safety import jsonbody
from gateway.safety.headers import visible_ascii
from gateway.safety.inert import visible

log = logging.getLogger("palm.http")

API_PREFIX = "/api/v1"
RUNTIME: web.AppKey[Runtime] = web.AppKey("runtime", Runtime)


def error_response(status: int, code: str, message: str) -> web.Response:
    return web.json_response({"error": {"code": code, "message": message}}, status=status)


def _json_default(value: Any) -> Any:
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def json_response(data: Any, status: int = 200) -> web.Response:
    body = json.dumps(data, ensure_ascii=False, default=_json_default)
    return web.Response(text=body, status=status, content_type="application/json")


@web.middleware
async def _errors(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    try:
        return await handler(request)
    except GatewayError as exc:
        status = exc.http_status if 400 <= exc.http_status < 600 else 500
        return error_response(status, exc.code, exc.message)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status, "http_error")
        return error_response(exc.status, code, exc.reason)
    except Exception:
        # Last resort only: every input known to reach here was fixed at its cause
        # (tests/hardening). One log line with the traceback, never a body with it.
        log.exception("unhandled error", extra={"method": request.method, "path": request.path})
        return error_response(500, "internal", "internal error; see the palm log")


async def _parse_body(request: web.Request, model: type[BaseModel]) -> BaseModel:
    jsonbody.check_charset(request.charset)
    raw = jsonbody.loads(await request.read())
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        err = exc.errors(include_input=False)[0]
        where = ".".join(str(p) for p in err["loc"]) or "body"
        what = "unknown field" if err["type"] == "extra_forbidden" else err["msg"]
        raise InputError(f"{where}: {what}") from None


def _bearer(request: web.Request) -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer":
        return None
    token = token.strip()
    if token and not visible_ascii(token):
        # Not hashable as-is (lone surrogates from bad UTF-8), and no token looks like it.
        raise Unauthorized("malformed bearer token")
    return token


def _known_query(request: web.Request, route: ApiRoute) -> None:
    """Unknown query parameters are refused like unknown body fields: a typo such as
    ``?stauts=new`` would otherwise silently list everything."""
    unknown = sorted(set(request.query) - set(route.query))
    if unknown:
        allowed = ", ".join(route.query) or "none"
        shown = visible(unknown[0], one_line=True)[:40]
        raise InputError(f"unknown query parameter {shown!r} (allowed: {allowed})")
    # Each parameter is one value: ``?limit=5&limit=x`` would otherwise be read as its
    # first value and the rest silently ignored.
    repeated = sorted(k for k in set(request.query) if len(request.query.getall(k)) > 1)
    if repeated:
        shown = visible(repeated[0], one_line=True)[:40]
        raise InputError(f"query parameter {shown!r} given more than once")


def _endpoint(route: ApiRoute) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    async def handle(request: web.Request) -> web.StreamResponse:
        rt = request.app[RUNTIME]
        principal = await TokenStore(rt.redis, rt.keys).authenticate(_bearer(request))
        _known_query(request, route)
        if principal.role < route.role:
            raise Forbidden(
                f"this needs the {route.role.label} role; the token has {principal.role.label}"
            )
        body = await _parse_body(request, route.body) if route.body is not None else None
        result = await route.handler(ApiRequest(rt, request, principal, body))
        if isinstance(result, web.StreamResponse):
            return result
        return json_response(result, route.status)

    return handle


def build_app(
    rt: Runtime, adapters: Sequence[Adapter] = (), *, api: bool = True, webhooks: bool = True
) -> web.Application:
    """The health routes always; the API and console with ``api``, the adapters'
    webhooks with ``webhooks`` (``palm run --role``, ``gateway.app.Role``)."""
    app = web.Application(middlewares=[_errors], client_max_size=25 * 1024 * 1024)
    app[RUNTIME] = rt
    if api:
        _mount_api(app, rt)
    for method, path, handler in system_routes(rt, adapters):
        app.router.add_route(method, path, handler)
    for adapter in adapters if webhooks else ():
        for extra in adapter.routes():
            app.router.add_route(extra.method, extra.path, extra.handler)
    return app


def _mount_api(app: web.Application, rt: Runtime) -> None:
    routes = all_routes()
    for route in routes:
        app.router.add_route(route.method, API_PREFIX + route.path, _endpoint(route))
    document = openapi_document(routes, API_PREFIX)

    async def openapi(_: web.Request) -> web.Response:
        return json_response(document)

    app.router.add_get(API_PREFIX + "/openapi.json", openapi)
    mount_console(app, rt)
