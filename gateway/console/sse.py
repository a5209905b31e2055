"""Server-sent events for the live pages, read from the console event stream in Redis.

``/console/events?topic=queue`` sends each ticket change as a rendered table row (the
server escapes it, the page only inserts it); ``topic=ticket:T-1`` and
``topic=announcement:A-1`` (or ``poll:P-1``) send ``refresh`` when that ticket,
announcement (a confirmation too) or poll (a counted vote) changed, and
the page fetches its live fragment again. Every event carries the stream entry id, so
the browser's automatic reconnect (``Last-Event-ID``) resumes where it stopped.

Delivery progress is not on the stream: the announcement topic polls the outbox's
per-announcement counts (one small hash read per half second per open page), so the
delivery hot path pays nothing for the console.
"""

from __future__ import annotations

import json
import logging
import time
from typing import Any

import aiohttp_jinja2
from aiohttp import web
from redis.exceptions import RedisError

from gateway.accounts import Scope
from gateway.aio import checkpoint
from gateway.console import queue
from gateway.console.context import page_vars, runtime, signed_in
from gateway.console.events import ConsoleEvent, last_id, read_after, valid_event_id
from gateway.errors import InputError
from gateway.funnel.ticket_model import Ticket
from gateway.runtime import Runtime

log = logging.getLogger("palm.console")

BLOCK_MS = 500
KEEPALIVE_SECONDS = 15.0
SCOPE_REFRESH_SECONDS = 10.0


class _Scoped:
    """The chats an account may see, re-read now and then (tags change while a page is open)."""

    def __init__(self, rt: Runtime, scope: Scope | None) -> None:
        self.rt, self.scope = rt, scope
        self.allowed: set[str] | None = None
        self.read_at = 0.0

    async def permits(self, target: str) -> bool:
        if self.scope is None:
            return True
        stale = time.monotonic() - self.read_at > SCOPE_REFRESH_SECONDS
        if self.allowed is None or stale or target not in self.allowed:
            self.allowed = await queue.in_scope(self.rt, self.scope)
            self.read_at = time.monotonic()
        return self.allowed is not None and target in self.allowed


def _start(request: web.Request) -> str:
    for raw in (request.headers.get("Last-Event-ID", ""), request.query.get("from", "")):
        if raw:
            if not valid_event_id(raw):
                raise InputError("Last-Event-ID: not an event id")
            return raw
    return ""


async def _send(resp: web.StreamResponse, event: str, data: Any, event_id: str) -> None:
    payload = json.dumps(data, ensure_ascii=False)
    await resp.write(f"id: {event_id}\nevent: {event}\ndata: {payload}\n\n".encode())


async def _row(request: web.Request, ev: ConsoleEvent) -> dict[str, Any] | None:
    rt = runtime(request)
    h: Any = await rt.redis.hgetall(rt.keys("ticket", ev.subject))
    if not h:
        return None
    tk = Ticket.from_hash(h)
    html = aiohttp_jinja2.render_string("_row.html", request, page_vars(request, tk=tk))
    return {"id": tk.id, "status": tk.status, "kind": tk.kind, "html": html}


async def _deliver(
    request: web.Request, resp: web.StreamResponse, topic: str, ev: ConsoleEvent, scoped: _Scoped
) -> None:
    if ev.target and not await scoped.permits(ev.target):
        return  # another compound's event: never leaves the server
    if topic == "queue" and ev.kind == "ticket":
        row = await _row(request, ev)
        if row is not None:
            await _send(resp, "ticket", row, ev.id)
    elif topic == "queue" and ev.kind == "parked":
        await _send(resp, "parked", {"what": ev.data.get("what", "")}, ev.id)
    elif topic == f"{_subject_kind(ev)}:{ev.subject}":
        await _send(resp, "refresh", {"subject": ev.subject, "what": ev.data}, ev.id)


def _subject_kind(ev: ConsoleEvent) -> str:
    return {"ticket": "ticket", "vote": "poll"}.get(ev.kind, "announcement")


async def _counts(rt: Runtime, topic: str) -> str:
    if not topic.startswith("announcement:"):
        return ""
    from gateway.announcements import ORIGIN
    from gateway.outbox import OutboxStore

    key = OutboxStore(rt).counts_key(ORIGIN, topic.split(":", 1)[1])
    status: Any = await rt.redis.hget(rt.keys("announcement", topic.split(":", 1)[1]), "status")
    return json.dumps([await rt.redis.hgetall(key), status], sort_keys=True)


async def events(request: web.Request) -> web.StreamResponse:
    _, user = signed_in(request)
    rt = runtime(request)
    topic = request.query.get("topic", "queue")
    if not (topic == "queue" or topic.startswith(("ticket:", "announcement:", "poll:"))):
        raise InputError("topic: expected queue, ticket:T-<n>, announcement:A-<n> or poll:P-<n>")
    after = _start(request) or await last_id(rt.redis, rt.keys)
    resp = web.StreamResponse(
        headers={"Content-Type": "text/event-stream", "X-Accel-Buffering": "no"}
    )
    await resp.prepare(request)
    await resp.write(b"retry: 1000\n\n")
    scoped = _Scoped(rt, user.scope)
    counts = await _counts(rt, topic)
    if counts:
        # Deliveries may have settled between the page's render and this connect: have the
        # page fetch its live part once, then follow the counts from here.
        await _send(resp, "refresh", {"subject": topic, "what": "progress"}, after)
    quiet_since = time.monotonic()
    try:
        while True:
            checkpoint()
            batch = await read_after(rt.redis, rt.keys, after, block_ms=BLOCK_MS)
            for ev in batch:
                await _deliver(request, resp, topic, ev, scoped)
                after = ev.id
            now_counts = await _counts(rt, topic)
            if now_counts != counts:
                counts = now_counts
                await _send(resp, "refresh", {"subject": topic, "what": "progress"}, after)
            if batch:
                quiet_since = time.monotonic()
            elif time.monotonic() - quiet_since > KEEPALIVE_SECONDS:
                await resp.write(b": keep-alive\n\n")
                quiet_since = time.monotonic()
    except ConnectionResetError:
        pass  # the page was closed
    except (RedisError, OSError):
        # Redis away: end the stream; the browser reconnects with Last-Event-ID and
        # resumes where it stopped once Redis answers again.
        log.warning("console events: redis trouble, stream closed")
    return resp
