"""Sign in, sign out and the language switch."""

from __future__ import annotations

import secrets
from urllib.parse import urlsplit

import aiohttp_jinja2
from aiohttp import web

from gateway.console import i18n
from gateway.console.auth import verify
from gateway.console.context import (
    LANG_COOKIE,
    PRE_COOKIE,
    SESSION_COOKIE,
    ctx,
    page_vars,
    runtime,
)
from gateway.console.sessions import IDLE_SECONDS, SessionStore, SignInThrottle, same

MAX_NAME = 64
MAX_PASSWORD = 1024


def _cookie(resp: web.StreamResponse, request: web.Request, name: str, value: str,
            max_age: int | None = None) -> None:  # fmt: skip
    resp.set_cookie(
        name, value, path="/console", httponly=True, samesite="Strict",
        secure=ctx(request).secure, max_age=max_age,
    )  # fmt: skip


def _form(
    request: web.Request, *, error: str = "", name: str = "", status: int = 200
) -> web.Response:
    pre = request.cookies.get(PRE_COOKIE) or secrets.token_urlsafe(24)
    resp = aiohttp_jinja2.render_template(
        "signin.html", request, page_vars(request, pre=pre, error=error, name=name), status=status
    )
    _cookie(resp, request, PRE_COOKIE, pre)
    return resp


async def signin_page(request: web.Request) -> web.StreamResponse:
    if ctx(request).user is not None:
        raise web.HTTPFound("/console/")
    return _form(request)


async def signin(request: web.Request) -> web.StreamResponse:
    c, rt = ctx(request), runtime(request)
    form = await request.post()
    # Before a session exists the CSRF token is a cookie echoed in the form (double
    # submit); SameSite=Strict keeps other sites' forms from sending the cookie at all.
    if not same(str(form.get("csrf", "")), request.cookies.get(PRE_COOKIE, "")):
        return _form(request, error=c.t("The form expired: please try again."), status=403)
    name = str(form.get("name", "")).strip()[:MAX_NAME]
    password = str(form.get("password", ""))[:MAX_PASSWORD]
    throttle = SignInThrottle(rt.redis, rt.keys)
    wait = await throttle.wait_seconds(name)
    if wait:
        msg = c.t("Too many failed sign-ins: try again in {s} s.", s=wait)
        return _form(request, error=msg, name=name, status=429)
    user = await verify(rt, name, password) if name and password else None
    if user is None:
        await throttle.failed(name)
        return _form(request, error=c.t("Wrong name or password."), name=name, status=401)
    await throttle.succeeded(name)
    token, _ = await SessionStore(rt.redis, rt.keys).create(user.name)
    resp = web.HTTPFound("/console/")
    _cookie(resp, request, SESSION_COOKIE, token, max_age=IDLE_SECONDS)
    resp.del_cookie(PRE_COOKIE, path="/console")
    raise resp


async def signout(request: web.Request) -> web.StreamResponse:
    c, rt = ctx(request), runtime(request)
    if c.session is not None:
        await SessionStore(rt.redis, rt.keys).end(c.session)
    resp = web.HTTPFound("/console/signin")
    resp.del_cookie(SESSION_COOKIE, path="/console")
    raise resp


async def switch_language(request: web.Request) -> web.StreamResponse:
    lang = request.query.get("to", "")
    nxt = request.query.get("next", "/console/")
    # Only a path inside the console: never an open redirect.
    parts = urlsplit(nxt)
    if parts.scheme or parts.netloc or not parts.path.startswith("/console"):
        nxt = "/console/"
    resp = web.HTTPFound(nxt)
    if lang in i18n.LANGS:
        _cookie(resp, request, LANG_COOKIE, lang, max_age=365 * 86400)
    raise resp
