"""Per-request console state: language, translator, session and signed-in account."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from gateway.accounts import Principal, Role, Scope
from gateway.console import i18n
from gateway.console.sessions import Session
from gateway.errors import Forbidden, NotFound
from gateway.runtime import Runtime

RUNTIME: web.AppKey[Runtime] = web.AppKey("console_runtime", Runtime)
SESSION_COOKIE = "palm_session"
PRE_COOKIE = "palm_signin"
LANG_COOKIE = "palm_lang"


@dataclass(frozen=True, slots=True)
class Ctx:
    lang: str
    t: Callable[..., str]
    session: Session | None
    user: Principal | None
    secure: bool

    @property
    def scope(self) -> Scope | None:
        return self.user.scope if self.user is not None else None

    @property
    def can_act(self) -> bool:
        return self.user is not None and self.user.role >= Role.STAFF


CTX: web.RequestKey[Ctx] = web.RequestKey("palm_console", Ctx)


def ctx(request: web.Request) -> Ctx:
    return request[CTX]


def runtime(request: web.Request) -> Runtime:
    return request.config_dict[RUNTIME]


def signed_in(request: web.Request) -> tuple[Ctx, Principal]:
    c = ctx(request)
    if c.user is None:  # the middleware redirects before handlers run; this is for mypy
        raise web.HTTPFound("/console/signin")
    return c, c.user


ROLE_TOO_LOW = "Your role cannot do this."


def role_too_low() -> Forbidden:
    """The 403 for an action above the account's role (the console's own words)."""
    return Forbidden(ROLE_TOO_LOW, zh=i18n.ZH[ROLE_TOO_LOW])


def require_staff(request: web.Request) -> None:
    if not ctx(request).can_act:
        raise role_too_low()


def no_action(action: str) -> NotFound:
    """A POST to an action no form of the console has (a hand-made URL)."""
    return NotFound(f"no action {action}", zh=f"没有「{action}」这个操作")


def page_vars(request: web.Request, **extra: Any) -> dict[str, Any]:
    c = ctx(request)
    return {
        "t": c.t,
        "lang": c.lang,
        "category": lambda name: i18n.category(name, c.lang),
        "colon": "：" if c.lang == "zh" else ": ",  # Chinese takes the full-width colon
        "user": c.user,
        "scope": c.scope.expr if c.scope is not None else None,
        "can_act": c.can_act,
        "csrf": c.session.csrf if c.session is not None else "",
        "path": request.path,
        "qs": request.query_string,
        **extra,
    }
