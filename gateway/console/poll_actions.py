"""Create and close polls from the console, as ``palm poll create|close`` and the API do.

The poll store has no idempotency key of its own, so the form carries one (made when
the page is rendered) and a console-side ``SET NX`` claims it before the poll is
created: a double click makes one poll, and the second submit lands on the first's page.
"""

from __future__ import annotations

import secrets

from aiohttp import web

from gateway.accounts import views as account_views
from gateway.console import compose
from gateway.console.context import ctx, runtime, signed_in
from gateway.errors import Forbidden, InputError
from gateway.polls import service, views
from gateway.runtime import Runtime

IDEM_TTL = 86400


def new_key() -> str:
    return secrets.token_urlsafe(16)


def require_staff(request: web.Request) -> None:
    if not ctx(request).can_act:
        raise Forbidden(ctx(request).t("Your role cannot do this."))


def _options(raw: str) -> list[str]:
    # One option a line in the textarea; blank lines are the person's spacing, not options.
    return [o.strip() for o in raw.splitlines() if o.strip()]


def _closes(raw: str) -> float | None:
    try:
        return compose.parse_local(raw)
    except ValueError:
        raise InputError("closes at: not a date and time") from None


async def _claim(rt: Runtime, key: str) -> tuple[bool, str]:
    """``(True, "")`` when this submit owns the key; else ``(False, poll id or "")``."""
    if await rt.redis.set(key, "", nx=True, ex=IDEM_TTL):
        return True, ""
    return False, str(await rt.redis.get(key) or "")


async def create(request: web.Request) -> web.StreamResponse:
    require_staff(request)
    _, user = signed_in(request)
    rt = runtime(request)
    form = await request.post()
    to = str(form.get("to", "")).strip()
    await account_views.check_announce(rt, user.scope, to)
    idem = str(form.get("idem", ""))[:64]
    key = rt.keys("console", "poll-idem", user.name, idem)
    if idem:
        owned, earlier = await _claim(rt, key)
        if not owned:
            raise web.HTTPSeeOther(f"/console/polls/{earlier}" if earlier else "/console/polls")
    try:
        poll = await service.create(
            rt,
            question=str(form.get("question", "")),
            options=_options(str(form.get("options", ""))),
            to=to,
            multiple=bool(form.get("multiple")),
            closes_at=_closes(str(form.get("closes", ""))),
            created_by=user.name,
        )
    except Exception:
        if idem:  # nothing was made: the person may fix the form and submit it again
            await rt.redis.delete(key)
        raise
    if idem:
        await rt.redis.set(key, poll.id, ex=IDEM_TTL)
    raise web.HTTPSeeOther(f"/console/polls/{poll.id}")


async def close(request: web.Request) -> web.StreamResponse:
    require_staff(request)
    _, user = signed_in(request)
    rt = runtime(request)
    poll = await views.poll_in_scope(rt, user.scope, request.match_info["id"], acting=True)
    await service.close(rt, poll.id)
    raise web.HTTPSeeOther(f"/console/polls/{poll.id}")
