"""Console events: one Redis stream that every palm process writes and every console reads.

Written where tickets are created or changed and where deliveries and edit/recall results
settle, so an event on any process reaches every open console. The stream is a live feed,
not a work queue: it is trimmed to about ``MAX_EVENTS`` (a console that was away longer
reloads the page), and the entry id is the SSE event id, so a reconnect resumes with
``Last-Event-ID`` exactly where it stopped.

Every event names the chat (``target``) it concerns, so a scoped account's stream drops
the events of chats outside its scope.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import RedisError

from gateway.keys import Keys
from gateway.runtime import Runtime

log = logging.getLogger("palm.console")

MAX_EVENTS = 50_000
"""About this many recent events are kept (approximate trimming: cheap)."""


@dataclass(frozen=True, slots=True)
class ConsoleEvent:
    id: str
    """The stream entry id: also the SSE ``id``."""
    kind: str
    """``ticket`` | ``delivery`` | ``action``"""
    subject: str
    """The ticket or announcement id."""
    target: str
    """The chat it concerns ('' when it concerns none in particular)."""
    data: dict[str, Any]


def stream_key(keys: Keys) -> str:
    return keys("console", "events")


async def publish(
    redis: Redis, keys: Keys, kind: str, subject: str, target: str, data: dict[str, Any]
) -> None:
    """Add one event. A console feed must never break the work it reports on: log, go on."""
    fields = {
        "kind": kind,
        "subject": subject,
        "target": target,
        "data": json.dumps(data, ensure_ascii=False),
    }
    try:
        await redis.xadd(stream_key(keys), fields, maxlen=MAX_EVENTS, approximate=True)  # type: ignore[arg-type]
    except (RedisError, OSError):
        log.warning("console event not published", extra={"kind": kind, "subject": subject})


def _event(entry_id: Any, fields: Any) -> ConsoleEvent:
    f = {str(k): str(v) for k, v in dict(fields).items()}
    return ConsoleEvent(
        id=str(entry_id),
        kind=f.get("kind", ""),
        subject=f.get("subject", ""),
        target=f.get("target", ""),
        data=json.loads(f.get("data") or "{}"),
    )


async def last_id(redis: Redis, keys: Keys) -> str:
    """The newest entry id ('0-0' when empty): a fresh page follows from here."""
    rows: Any = await redis.xrevrange(stream_key(keys), count=1)
    return str(rows[0][0]) if rows else "0-0"


async def read_after(
    redis: Redis, keys: Keys, after: str, *, block_ms: int, count: int = 200
) -> list[ConsoleEvent]:
    """Events after ``after``, waiting up to ``block_ms`` for the first one."""
    res: Any = await redis.xread({stream_key(keys): after}, count=count, block=block_ms)
    if not res:
        return []
    return [_event(entry_id, fields) for entry_id, fields in res[0][1]]


def valid_event_id(raw: str) -> bool:
    ms, sep, seq = raw.partition("-")
    return bool(sep) and ms.isdigit() and seq.isdigit()


async def ticket_event(rt: Runtime, tid: str, target: str, what: str) -> None:
    """A ticket was created or changed (the queue and ticket pages update from it)."""
    await publish(rt.redis, rt.keys, "ticket", tid, target, {"what": what})


async def parked_event(rt: Runtime, entry: str, target: str | None, what: str) -> None:
    """A resident's message was parked, retried or marked handled: the queue page's list
    of messages that became no ticket updates from it."""
    await publish(rt.redis, rt.keys, "parked", entry, target or "", {"what": what})
