"""The funnel's parked entries: inbound updates the consumer could not handle.

An entry is parked (``FunnelConsumer._dead_letter``) when it does not decode, when
handling it raised a bug, when its consumers kept dying on it, or when what it wrote
kept missing on the Redis server its ack reached. It is moved, whole, to the list
``inbound:deadletter`` so that the stream goes on; nothing of it is lost. This module
reads that list for ``palm queue dead-letters`` and ``GET /queue/dead-letters``, and
for the staff (``for_staff``: the console's queue page and a staff room's ``/queue``).
Parsing is pure (``parse``), apart from the reads (``parked``, ``for_staff``).
"""

from __future__ import annotations

import json
import time
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass, field
from typing import Any

from redis.asyncio import Redis

from gateway.accounts.scope import Scope
from gateway.codec import decode_event
from gateway.keys import Keys
from gateway.models import InboundMessage, TargetId
from gateway.runtime import Runtime
from gateway.targets import Target, TargetDirectory

LIST_LIMIT = 500
"""The newest entries shown at most; the list itself keeps every one."""


@dataclass(frozen=True, slots=True)
class Parked:
    """One parked entry, as far as it can be read. ``target`` is ``None`` for an entry
    that does not decode (then ``raw`` is all there is)."""

    entry: str
    error: str
    at: float
    target: TargetId | None
    sender: str | None
    text: str | None
    raw: str
    answered: bool = False
    """The resident was told that staff will get back to them (``parked_answer``)."""
    record: str = field(default="", repr=False, compare=False)
    """The list item itself, exactly: what ``gateway.funnel.parked_actions`` removes."""

    def to_json(self) -> dict[str, Any]:
        out = asdict(self)
        del out["record"]
        return out


def parse(record: str | bytes) -> Parked:
    """One list item (written by the consumer) as ``Parked``; never raises."""
    try:
        d = json.loads(record)
    except ValueError:
        d = None
    whole = record.decode(errors="replace") if isinstance(record, bytes) else record
    if not isinstance(d, dict):
        return Parked("?", "unreadable dead-letter record", 0.0, None, None, None, whole,
                      record=whole)  # fmt: skip
    got = d.get("fields")
    fields: dict[str, Any] = got if isinstance(got, dict) else {}
    e = fields.get("e")
    raw = e if isinstance(e, str) else json.dumps(fields, ensure_ascii=False)
    target: str | None = None
    sender: str | None = None
    text: str | None = None
    try:
        event = decode_event(raw)
    except ValueError:
        pass  # malformed: the raw fields are what there is to show
    else:
        target = getattr(event, "target", None)
        if isinstance(event, InboundMessage):
            sender, text = event.sender.display_name or str(event.sender.user_id), event.text
    at = d.get("at")
    return Parked(
        entry=str(d.get("entry", "?")),
        error=str(d.get("error", "")),
        at=float(at) if isinstance(at, (int, float)) else 0.0,
        target=TargetId(target) if target else None,
        sender=sender,
        text=text,
        raw=raw,
        answered=bool(d.get("answered")),
        record=whole,
    )


ParkedHook = Callable[[Runtime, Parked], Awaitable[object]]
"""Told by the funnel of each entry about to be parked (the staff rooms post its card);
it may be told again if the process dies before the park, so it must be idempotent."""


def record(entry_id: str, fields: Any, error: str, *, answered: str | None = None) -> str:
    """The list item for a parked entry (pure); ``answered``: the delivery id of the answer
    to its resident, when one was queued."""
    d = {"entry": entry_id, "fields": fields, "error": error, "at": time.time()}
    if answered is not None:
        d["answered"] = answered
    return json.dumps(d, ensure_ascii=False)


async def park(redis: Redis, keys: Keys, stream: str, group: str, entry_id: str, item: str) -> None:
    """Move an entry from the inbound stream to the list (``item``), in one transaction."""
    pipe = redis.pipeline(transaction=True)
    pipe.rpush(keys("inbound", "deadletter"), item)
    pipe.xack(stream, group, entry_id)
    pipe.xdel(stream, entry_id)
    await pipe.execute()


async def parked(redis: Redis, keys: Keys, *, limit: int = LIST_LIMIT) -> list[Parked]:
    """The newest ``limit`` parked entries, newest first."""
    records: list[Any] = await redis.lrange(keys("inbound", "deadletter"), -limit, -1)
    return [parse(r) for r in reversed(records)]


def in_scope(items: list[Parked], allowed: set[str] | None) -> list[Parked]:
    """What a scoped principal may see: entries of chats in ``allowed`` (``None``: all).
    An entry that names no chat is the operator's alone."""
    if allowed is None:
        return items
    return [p for p in items if p.target is not None and p.target in allowed]


@dataclass(frozen=True, slots=True)
class ForStaff:
    """A parked resident's message that staff can act on, with its chat (``None`` when
    the directory no longer knows it)."""

    parked: Parked
    chat: Target | None

    @property
    def text(self) -> str:
        return self.parked.text or ""


async def for_staff(redis: Redis, keys: Keys, scope: Scope | None) -> list[ForStaff]:
    """The newest ``LIST_LIMIT`` parked entries that are residents' messages from chats
    inside ``scope``, newest first. The console lists them and a staff room counts
    them, so both read this one list and agree. An entry with no words (it does not
    decode, or is no message) is nothing staff can act on: the operator's alone."""
    items = [p for p in await parked(redis, keys) if p.target is not None and p.text is not None]
    chats = [p.target for p in items if p.target is not None]
    known = {t.id: t for t in await TargetDirectory(redis, keys).many(chats)} if chats else {}
    out = []
    for p in items:
        chat = known.get(p.target) if p.target is not None else None
        if scope is None or (chat is not None and scope.permits(chat)):
            out.append(ForStaff(p, chat))
    return out
