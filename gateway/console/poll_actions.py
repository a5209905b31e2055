"""Create and close polls from the console, as ``palm poll create|close`` and the API do.

The form carries an idempotency key (made when the page is rendered), handed to the
poll service: a double click makes one poll, and the second submit lands on the
first's page.
"""

from __future__ import annotations

import secrets

from aiohttp import web

from gateway.accounts import views as account_views
from gateway.console import compose
from gateway.console.context import require_staff, runtime, signed_in
from gateway.errors import InputError
from gateway.polls import service, views


def new_key() -> str:
    return secrets.token_urlsafe(16)


def _options(raw: str) -> list[str]:
    # One option a line in the textarea; blank lines are the person's spacing, not options.
    return [o.strip() for o in raw.splitlines() if o.strip()]


def _closes(raw: str) -> float | None:
    try:
        return compose.parse_local(raw)
    except ValueError:
        raise InputError(
            "closes at: not a date and time", zh="截止时间：不是有效的日期和时间"
        ) from None


async def create(request: web.Request) -> web.StreamResponse:
    require_staff(request)
    _, user = signed_in(request)
    rt = runtime(request)
    form = await request.post()
    to = str(form.get("to", "")).strip()
    await account_views.check_announce(rt, user.scope, to)
    idem = str(form.get("idem", ""))[:64]
    poll = await service.create(
        rt,
        question=str(form.get("question", "")),
        options=_options(str(form.get("options", ""))),
        to=to,
        multiple=bool(form.get("multiple")),
        closes_at=_closes(str(form.get("closes", ""))),
        created_by=user.name,
        idempotency_key=f"console:{user.name}:{idem}" if idem else None,
    )
    raise web.HTTPSeeOther(f"/console/polls/{poll.id}")


async def close(request: web.Request) -> web.StreamResponse:
    require_staff(request)
    _, user = signed_in(request)
    rt = runtime(request)
    poll = await views.poll_in_scope(rt, user.scope, request.match_info["id"], acting=True)
    await service.close(rt, poll.id)
    raise web.HTTPSeeOther(f"/console/polls/{poll.id}")
