"""/api/v1/tickets: read the queue (viewer), work tickets (staff).

The actor recorded on a ticket's history is the API token's name. A scoped caller
sees and works only tickets from chats inside its scope (others answer 404).
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from gateway.accounts import Role, views
from gateway.errors import InputError
from gateway.funnel import staff
from gateway.funnel.ticket_model import parse_ticket_id
from gateway.funnel.tickets import TicketStore
from gateway.http.route import ApiRequest, ApiRoute
from gateway.models import TicketId


class ClaimBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    force: bool = False


class ReplyBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    text: str = Field(min_length=1, max_length=staff.MAX_TEXT)


class ResolveBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    note: str | None = Field(default=None, max_length=staff.MAX_TEXT)


def _limit(raw: str | None) -> int:
    if raw is None:
        return 50
    try:
        return int(raw)
    except ValueError:
        raise InputError(f"limit: expected a number, got {raw!r}") from None


async def list_tickets(req: ApiRequest) -> dict[str, Any]:
    tickets, cursor = await views.list_tickets(
        req.rt,
        req.scope,
        status=req.query("status") or None,
        kind=req.query("kind") or None,
        limit=_limit(req.query("limit")),
        cursor=req.query("cursor") or None,
    )
    return {"tickets": [t.to_json() for t in tickets], "next_cursor": cursor}


async def _ticket_id(req: ApiRequest) -> TicketId:
    """The path's ticket id, once it is known to lie inside the caller's scope."""
    tid = parse_ticket_id(req.path("id"))
    await views.ticket_in_scope(req.rt, req.scope, tid)
    return tid


async def show_ticket(req: ApiRequest) -> dict[str, Any]:
    store = TicketStore(req.rt.redis, req.rt.keys)
    return await store.detail(await _ticket_id(req))


async def _claim_body(req: ApiRequest) -> ClaimBody:
    """The body is optional here (``POST /claim`` with nothing means no force)."""
    raw = await req.http.read()
    if not raw.strip():
        return ClaimBody()
    try:
        return ClaimBody.model_validate_json(raw)
    except ValidationError as exc:
        err = exc.errors(include_input=False)[0]
        where = ".".join(str(p) for p in err["loc"]) or "body"
        what = "unknown field" if err["type"] == "extra_forbidden" else err["msg"]
        raise InputError(f"{where}: {what}") from None


async def claim_ticket(req: ApiRequest) -> dict[str, Any]:
    body = await _claim_body(req)
    return await staff.claim(req.rt, await _ticket_id(req), req.principal.name, force=body.force)


async def reply_ticket(req: ApiRequest) -> dict[str, Any]:
    assert isinstance(req.body, ReplyBody)
    return await staff.reply(req.rt, await _ticket_id(req), req.principal.name, req.body.text)


async def resolve_ticket(req: ApiRequest) -> dict[str, Any]:
    assert isinstance(req.body, ResolveBody)
    return await staff.resolve(req.rt, await _ticket_id(req), req.principal.name, req.body.note)


def routes() -> list[ApiRoute]:
    return [
        ApiRoute(
            "GET",
            "/tickets",
            Role.VIEWER,
            "List tickets: urgent first, then oldest (cursor pagination)",
            list_tickets,
            query=("status", "kind", "limit", "cursor"),
        ),
        ApiRoute(
            "GET", "/tickets/{id}", Role.VIEWER, "One ticket with its conversation", show_ticket
        ),
        ApiRoute(
            "POST",
            "/tickets/{id}/claim",
            Role.STAFF,
            "Claim a ticket; optional body {force}. 409 if someone else holds it",
            claim_ticket,
        ),
        ApiRoute(
            "POST",
            "/tickets/{id}/reply",
            Role.STAFF,
            "Reply to the resident, as a reply to their first message; claims a new ticket",
            reply_ticket,
            body=ReplyBody,
        ),
        ApiRoute(
            "POST",
            "/tickets/{id}/resolve",
            Role.STAFF,
            "Resolve a ticket and tell the resident (with the note)",
            resolve_ticket,
            body=ResolveBody,
        ),
    ]
