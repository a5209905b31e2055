"""Working the queue: claim, reply and resolve. Shared by the CLI and the API.

Each change is one Lua script on the ticket (status, assignee, history with time and
actor), then the message to the resident is put in the outbox, as a reply to their
first message, with a deterministic delivery id. The send result comes back through
``ticket_delivery_hook`` and is recorded on the ticket.

A reply to a ``new`` ticket claims it for the replier: whoever answers owns it.
"""

from __future__ import annotations

import time
from typing import Any

from redis.asyncio.client import Pipeline

from gateway.console.events import ticket_event
from gateway.console.samples import record_first_response
from gateway.errors import Conflict, InputError
from gateway.funnel.outbound import ticket_item, with_outbox_item
from gateway.funnel.tickets import TicketStore, no_ticket
from gateway.metrics import FIRST_RESPONSE_SECONDS
from gateway.models import TicketId
from gateway.outbox.model import DeliveryResult
from gateway.runtime import Runtime
from gateway.templates import pick_language, templates_for

MAX_TEXT = 4000
"""A staff reply must fit one Telegram message (4096) with the template around it."""


def _check_actor(actor: str) -> str:
    actor = actor.strip()
    if not actor or len(actor) > 64:
        raise InputError(
            "the staff name must be 1 to 64 characters", zh="工作人员的名字应为 1 到 64 个字符"
        )
    return actor


_WHAT_ZH = {"the reply": "回复内容", "the note": "备注"}


def _check_text(text: str, what: str, *, allow_empty: bool = False) -> str:
    text = text.strip()
    zh = _WHAT_ZH[what]
    if not text and not allow_empty:
        raise InputError(f"{what} is empty", zh=f"{zh}是空的")
    if len(text) > MAX_TEXT:
        raise InputError(
            f"{what} is longer than {MAX_TEXT} characters", zh=f"{zh}超过了 {MAX_TEXT} 个字符"
        )
    return text


async def claim(rt: Runtime, tid: TicketId, actor: str, *, force: bool = False) -> dict[str, Any]:
    store = TicketStore(rt.redis, rt.keys)
    previous = await store.claim(tid, _check_actor(actor), force=force)
    ticket = await store.get(tid)
    await ticket_event(rt, tid, ticket.target, "claimed")
    return {**ticket.to_json(), "previous_assignee": previous or None}


ONCE_TTL = 30 * 24 * 3600


async def reply(
    rt: Runtime, tid: TicketId, actor: str, text: str, *, once_key: str | None = None
) -> dict[str, Any]:
    """Answer the resident. With ``once_key`` (e.g. the platform message a staff room
    member answered with), a second call with the same key changes nothing: the key is
    set in the same transaction as the reply and its outbox item."""
    actor = _check_actor(actor)
    text = _check_text(text, "the reply")
    store = TicketStore(rt.redis, rt.keys)
    ticket = await store.get(tid)
    if once_key is not None and await rt.redis.exists(once_key):
        return {**ticket.to_json(), "duplicate": True}
    lang = pick_language(ticket.language, rt.config.locale)
    body = templates_for(rt.config.templates_file).reply(lang, tid, text)
    record = {"kind": "reply", "text": text, "actor": actor, "at": time.time()}
    number = await store.next_reply_number(tid)
    delivery_id = f"{tid}:reply:{number}"
    item = ticket_item(tid, delivery_id, ticket.target, body, ticket.first_message_id)

    async def change(pipe: Pipeline) -> None:
        await store.record_reply_on(pipe, tid, actor, record, number)
        if once_key is not None:
            pipe.set(once_key, delivery_id, ex=ONCE_TTL)

    out = await with_outbox_item(rt, item, change)
    if out[0] == "missing":
        raise no_ticket(tid)
    if out[2]:
        FIRST_RESPONSE_SECONDS.observe(max(0.0, float(out[2])))
        await record_first_response(rt, float(out[2]))
    await ticket_event(rt, tid, ticket.target, "replied")
    return {**(await store.get(tid)).to_json(), "delivery_id": delivery_id}


async def resolve(rt: Runtime, tid: TicketId, actor: str, note: str | None) -> dict[str, Any]:
    actor = _check_actor(actor)
    note = _check_text(note or "", "the note", allow_empty=True)
    store = TicketStore(rt.redis, rt.keys)
    ticket = await store.get(tid)
    lang = pick_language(ticket.language, rt.config.locale)
    body = templates_for(rt.config.templates_file).resolved(lang, tid, note or None)
    record = {"kind": "resolved", "text": body, "actor": actor, "at": time.time()}
    delivery_id = f"{tid}:resolved"
    item = ticket_item(tid, delivery_id, ticket.target, body, ticket.first_message_id)
    # If it was resolved already, the outbox item is a no-op: its id is taken.
    out = await with_outbox_item(
        rt, item, lambda pipe: store.record_resolve_on(pipe, tid, actor, note, record)
    )
    if out[0] == "missing":
        raise no_ticket(tid)
    if out[0] == "resolved":
        raise Conflict(f"{tid} is already resolved", zh=f"{tid} 已经解决了")
    await ticket_event(rt, tid, ticket.target, "resolved")
    return {**(await store.get(tid)).to_json(), "delivery_id": delivery_id}


async def ticket_delivery_hook(rt: Runtime, result: DeliveryResult) -> None:
    """The outbox's final word on a ticket message (at least once: idempotent)."""
    if not result.origin_id:
        return
    tid = TicketId(result.origin_id)
    store = TicketStore(rt.redis, rt.keys)
    await store.record_delivery(
        tid,
        result.delivery_id,
        {
            "state": result.state,
            "message_ids": list(result.message_ids),
            "reason": result.reason,
            "retryable": result.retryable,
            "attempts": result.attempts,
            "target": result.target,
        },
    )
    if result.state == "sent":
        await store.remember_bot_messages(tid, result.target, list(result.message_ids))
    await ticket_event(rt, tid, result.target, f"delivery {result.state}")
