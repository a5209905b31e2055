"""The console sub-application: mounted by ``palm run`` at /console/ on the API's listener.

One middleware does, for every console request: the security headers, the language,
the session (renewing its idle expiry), the sign-in redirect and the CSRF check on
every state-changing request. Page handlers only render.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Awaitable, Callable
from pathlib import Path

import aiohttp_jinja2
import jinja2
from aiohttp import web
from redis.exceptions import RedisError

from gateway.accounts import Principal
from gateway.console import i18n
from gateway.console.auth import account_principal
from gateway.console.context import (
    CTX,
    LANG_COOKIE,
    RUNTIME,
    SESSION_COOKIE,
    Ctx,
)
from gateway.console.sessions import SessionStore, same
from gateway.console.views import fmt_filters
from gateway.errors import GatewayError, StoreUnavailable
from gateway.runtime import Runtime

log = logging.getLogger("palm.console")

HERE = Path(__file__).parent
PREFIX = "/console"
PUBLIC = {f"{PREFIX}/signin", f"{PREFIX}/lang"}
UNSAFE = {"POST", "PUT", "PATCH", "DELETE"}

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; "
    "frame-ancestors 'none'"
)
HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "no-store",
}

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def is_secure(request: web.Request) -> bool:
    return request.secure or request.headers.get("X-Forwarded-Proto", "").lower() == "https"


async def _load(request: web.Request, rt: Runtime) -> Ctx:
    lang = i18n.pick(
        request.headers.get("Accept-Language"), request.cookies.get(LANG_COOKIE), rt.config.locale
    )
    session = await SessionStore(rt.redis, rt.keys).load(request.cookies.get(SESSION_COOKIE))
    user: Principal | None = None
    if session is not None:
        user = await account_principal(rt, session.name)
        if user is None:  # disabled or deleted since: the session is over
            await SessionStore(rt.redis, rt.keys).end(session)
            session = None
    return Ctx(lang, i18n.translator(lang), session, user, is_secure(request))


def _wants_json(request: web.Request) -> bool:
    """The page's own scripts (JSON, the event stream): they get a JSON refusal, never
    the sign-in page, so the composer can say why in words."""
    accept = request.headers.get("Accept", "")
    return accept.startswith("application/json") or request.path.endswith("/events")


def _refuse(c: Ctx, request: web.Request, status: int, text: str) -> web.Response:
    if _wants_json(request):
        code = {401: "unauthorized", 403: "forbidden"}.get(status, "bad_request")
        return web.json_response({"error": {"code": code, "message": c.t(text)}}, status=status)
    return web.Response(status=status, text=c.t(text), content_type="text/plain")


@web.middleware
async def console_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    rt = request.config_dict[RUNTIME]
    try:
        c = await _load(request, rt)
    except (RedisError, OSError) as exc:  # 503 (retry later), never a traceback
        raise StoreUnavailable(f"redis does not answer: {exc}") from exc
    request[CTX] = c
    try:
        resp = await _guarded(request, handler, c)
    except web.HTTPException as exc:  # redirects are raised; they get the headers too
        for name, value in HEADERS.items():
            exc.headers.setdefault(name, value)
        raise
    if request.path.startswith(f"{PREFIX}/static/"):
        resp.headers["Cache-Control"] = "public, max-age=86400"  # URLs carry a content hash
    for name, value in HEADERS.items():
        resp.headers.setdefault(name, value)
    return resp


async def _guarded(request: web.Request, handler: Handler, c: Ctx) -> web.StreamResponse:
    static = request.path.startswith(f"{PREFIX}/static/")
    if not static and request.path not in PUBLIC and c.user is None:
        if request.method in UNSAFE or _wants_json(request):
            return _refuse(c, request, 401, "Your session has expired: please sign in again.")
        raise web.HTTPFound(f"{PREFIX}/signin")
    if request.method in UNSAFE and request.path not in PUBLIC:
        assert c.session is not None
        sent = request.headers.get("X-CSRF-Token", "")
        if not sent and request.content_type in (
            "application/x-www-form-urlencoded",
            "multipart/form-data",
        ):
            sent = str((await request.post()).get("csrf", ""))
        if not same(sent, c.session.csrf):
            return _refuse(c, request, 403, "The form expired: please try again.")
    try:
        return await handler(request)
    except (RedisError, OSError) as exc:
        raise StoreUnavailable(f"redis does not answer: {exc}") from exc
    except GatewayError as exc:
        if exc.http_status >= 500:
            raise
        return _refuse_error(c, request, exc)


def _refuse_error(c: Ctx, request: web.Request, exc: GatewayError) -> web.Response:
    """A person's refused action, in the page's language (``exc.say``); the code stays
    the API's. The API itself (gateway.http) keeps answering ``exc.message``."""
    if _wants_json(request):
        body = {"error": {"code": exc.code, "message": exc.say(c.lang)}}
        return web.json_response(body, status=exc.http_status)
    return aiohttp_jinja2.render_template(
        "error.html",
        request,
        {"t": c.t, "lang": c.lang, "user": c.user, "message": exc.say(c.lang), "path": request.path,
         "csrf": c.session.csrf if c.session else "", "scope": None, "can_act": c.can_act,
         "qs": ""},
        status=exc.http_status,
    )  # fmt: skip


def _static_urls() -> Callable[[str], str]:
    """``static('console.css')`` -> its URL with a content hash, so caches never go stale."""
    versions = {
        p.name: hashlib.sha256(p.read_bytes()).hexdigest()[:12]
        for p in (HERE / "static").iterdir()
        if p.is_file()
    }

    def url(name: str) -> str:
        return f"{PREFIX}/static/{name}?v={versions[name]}"

    return url


def build_console(rt: Runtime) -> web.Application:
    from gateway.console import routes

    app = web.Application(middlewares=[console_middleware], client_max_size=25 * 1024 * 1024)
    app[RUNTIME] = rt
    env = aiohttp_jinja2.setup(
        app,
        loader=jinja2.FileSystemLoader(HERE / "templates"),
        autoescape=True,
        trim_blocks=True,
        lstrip_blocks=True,
        default_helpers=False,
    )
    env.filters.update(fmt_filters())
    env.globals["static"] = _static_urls()
    app.router.add_static("/static/", HERE / "static")
    routes.add_routes(app)
    return app


def mount(app: web.Application, rt: Runtime) -> None:
    """Serve the console at /console/ on ``app`` (the API's application)."""

    async def to_console(_: web.Request) -> web.StreamResponse:
        raise web.HTTPFound(f"{PREFIX}/")

    app.router.add_get(PREFIX, to_console)
    app.add_subapp(PREFIX, build_console(rt))
