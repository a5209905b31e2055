"""The queue and ticket pages, and the staff actions on a ticket."""

from __future__ import annotations

from typing import Any

import aiohttp_jinja2
from aiohttp import web

from gateway.accounts.views import ticket_in_scope
from gateway.console import files, queue
from gateway.console.context import no_action, page_vars, require_staff, runtime, signed_in
from gateway.console.events import last_id
from gateway.console.ticket_view import sent_to_resident
from gateway.funnel import parked_actions, staff
from gateway.funnel.ticket_model import parse_ticket_id
from gateway.funnel.tickets import TicketStore
from gateway.models import TicketId


def _filters(request: web.Request) -> tuple[str, str]:
    status = request.query.get("status", "open")
    kind = request.query.get("kind", "")
    return (status if status in queue.STATUSES else "open", kind if kind in queue.KINDS else "")


async def queue_page(request: web.Request) -> web.StreamResponse:
    _, user = signed_in(request)
    rt = runtime(request)
    status, kind = _filters(request)
    cursor = request.query.get("cursor") or None
    # The stream position first, then the read: a change in between is sent again, not lost.
    stream_from = await last_id(rt.redis, rt.keys)
    page = await queue.page(rt, user.scope, status, kind, cursor)
    return aiohttp_jinja2.render_template(
        "queue.html",
        request,
        page_vars(
            request, tickets=page.tickets, next_cursor=page.next_cursor, status=status,
            kind=kind, statuses=queue.STATUSES, kinds=queue.KINDS, stream_from=stream_from,
            parked=await queue.parked(rt, user.scope),
        ),
    )  # fmt: skip


async def parked_fragment(request: web.Request) -> web.StreamResponse:
    """The queue page's list of messages that became no ticket, fetched again live."""
    _, user = signed_in(request)
    rows = await queue.parked(runtime(request), user.scope)
    return aiohttp_jinja2.render_template("_parked.html", request, page_vars(request, parked=rows))


async def _ticket(request: web.Request) -> tuple[TicketId, dict[str, Any]]:
    _, user = signed_in(request)
    rt = runtime(request)
    tid = parse_ticket_id(request.match_info["id"])
    # Outside the account's scope a ticket does not exist for it: 404, not 403.
    await ticket_in_scope(rt, user.scope, tid)
    return tid, await TicketStore(rt.redis, rt.keys).detail(tid)


async def ticket_page(request: web.Request) -> web.StreamResponse:
    rt = runtime(request)
    stream_from = await last_id(rt.redis, rt.keys)
    _, detail = await _ticket(request)
    return aiohttp_jinja2.render_template(
        "ticket.html",
        request,
        page_vars(request, ticket=detail, sent=sent_to_resident(detail), stream_from=stream_from),
    )


async def ticket_fragment(request: web.Request) -> web.StreamResponse:
    """The live part of the ticket page, fetched again when an event says it changed."""
    _, detail = await _ticket(request)
    return aiohttp_jinja2.render_template(
        "ticket_live.html",
        request,
        page_vars(request, ticket=detail, sent=sent_to_resident(detail)),
    )


async def ticket_photo(request: web.Request) -> web.StreamResponse:
    _, detail = await _ticket(request)
    return await files.photo(request, detail)


async def ticket_action(request: web.Request) -> web.StreamResponse:
    require_staff(request)
    tid, _ = await _ticket(request)
    _, user = signed_in(request)
    rt = runtime(request)
    form = await request.post()
    action = request.match_info["action"]
    if action == "claim":
        await staff.claim(rt, tid, user.name, force=form.get("force") == "1")
    elif action == "reply":
        await staff.reply(rt, tid, user.name, str(form.get("text", "")))
    elif action == "resolve":
        await staff.resolve(rt, tid, user.name, str(form.get("note", "")) or None)
    else:
        raise no_action(action)
    raise web.HTTPSeeOther(f"/console/tickets/{tid}")


async def parked_action(request: web.Request) -> web.StreamResponse:
    """Retry a parked resident's message, or mark it handled (``parked_actions``)."""
    require_staff(request)
    _, user = signed_in(request)
    name = request.match_info["action"]
    action = parked_actions.ACTIONS.get(name)
    if action is None:
        raise no_action(name)
    await queue.act_on_parked(runtime(request), user.scope, request.match_info["entry"],
                              action, user.name)  # fmt: skip
    raise web.HTTPSeeOther("/console/#parked")
