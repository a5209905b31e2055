"""Announcements: create (now or at ``send_at``), read, edit and recall.

Layout (under ``Keys``)::

    announcement:seq              counter   A-<n>
    announcement:<id>             hash      text, title, priority, audience, status, ...
    announcement:<id>:targets     set       resolved targets (kept for scheduled ones)
    announcement:<id>:replies     set       T-ids of reply tickets (written by the funnel)
    announcements                 zset      ids by creation number, for listing
    announcements:scheduled       zset      ids by send_at
    announcement:idem:<key>       string    the id created with that Idempotency-Key, 24 h

Creating a non-scheduled announcement writes its hash and one delivery per target
in one MULTI, so either all of it exists or none does. A scheduled one writes its
target list; ``dispatch_due`` (the scheduler component, in every palm process) turns
it into deliveries when due; delivery ids are stable, so two schedulers racing, or one
crashing halfway, never enqueue a delivery twice.

An audience larger than ``bulk.CHUNK`` is written in chunks (``gateway.outbox.bulk``),
so its first messages go out while the rest is written: the MULTI writes the hash,
the target list, ``enqueue_pending`` and a scheduler entry ``ENQUEUE_GRACE`` seconds
ahead, the backstop that finishes the enqueue if this process dies halfway. The last
chunk clears both. While ``enqueue_pending`` is set the announcement is never "done".
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from redis.exceptions import RedisError

from gateway import announce_enqueue, audience
from gateway.aio import checkpoint
from gateway.announce_enqueue import ENQUEUE_GRACE, enqueue_chunked, fail_unconfigured, items
from gateway.attachments import load_stashed, stash
from gateway.errors import Conflict, InputError, NotFound
from gateway.models import (
    AnnouncementId,
    OutboundAttachment,
    Priority,
)
from gateway.outbox import OutboxStore, bulk
from gateway.outbox.actions import ActionResult, OnResult, apply
from gateway.outbox.model import QUEUED
from gateway.runtime import Runtime
from gateway.safety.inert import visible
from gateway.staffroom.config import staff_room_ids
from gateway.targets import TargetDirectory

log = logging.getLogger("palm.announcements")

IDEMPOTENCY_TTL = 24 * 3600
MAX_TEXT = 20_000
MAX_TITLE = 200
SCHEDULER_TICK = 1.0

ORIGIN = announce_enqueue.ORIGIN
SCHEDULED, SENDING, DONE, EDITED = "scheduled", "sending", "done", "edited"
RECALLED = announce_enqueue.RECALLED


@dataclass(frozen=True, slots=True)
class Announcement:
    id: AnnouncementId
    text: str
    title: str | None
    priority: Priority
    audience: str
    status: str
    created_at: float
    send_at: float | None
    target_count: int
    attachments: tuple[dict[str, Any], ...]
    created_by: str | None
    confirm: bool = False
    """Residents are asked to confirm they have read it (``gateway.confirm``)."""
    pruned_at: float | None = None
    """Its per-chat delivery records were removed then (``gateway.ops.retention``)."""

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "text": self.text,
            "title": self.title,
            "priority": self.priority.value,
            "to": self.audience,
            "status": self.status,
            "created_at": self.created_at,
            "send_at": self.send_at,
            "targets": self.target_count,
            "attachments": list(self.attachments),
            "created_by": self.created_by,
            "confirm": self.confirm,
            "pruned_at": self.pruned_at,
        }


def _key(rt: Runtime, *parts: str) -> str:
    return rt.keys("announcement", *parts)


def parse_id(raw: str) -> AnnouncementId:
    raw = raw.strip().upper()
    if not raw.startswith("A-") or not raw[2:].isdigit():
        raise InputError(
            f"{raw!r} is not an announcement id (like A-17)",
            zh=f"「{visible(raw, one_line=True)}」不是通知编号（应像 A-17 这样）",
        )
    return AnnouncementId(raw)


def _check_text(text: str, title: str | None) -> None:
    if not text.strip():
        raise InputError("the announcement text is empty", zh="通知内容是空的")
    if len(text) > MAX_TEXT:
        raise InputError(
            f"the announcement text is longer than {MAX_TEXT} characters",
            zh=f"通知内容超过了 {MAX_TEXT} 个字符",
        )
    if title is not None and len(title) > MAX_TITLE:
        raise InputError(
            f"the title is longer than {MAX_TITLE} characters",
            zh=f"标题超过了 {MAX_TITLE} 个字符",
        )


async def create(
    rt: Runtime,
    *,
    text: str,
    to: str,
    title: str | None = None,
    priority: Priority = Priority.NORMAL,
    send_at: float | None = None,
    attachments: Sequence[OutboundAttachment] = (),
    idempotency_key: str | None = None,
    created_by: str | None = None,
    confirm: bool = False,
) -> tuple[Announcement, bool]:
    """Create an announcement; returns it and whether it is new (``False``: same key)."""
    idem_key = _key(rt, "idem", idempotency_key) if idempotency_key else None
    if idem_key and (existing := await rt.redis.get(idem_key)):
        return await _created_by_other(rt, str(existing)), False
    _check_text(text, title)
    # A staff room is never an audience, ``*`` included.
    staff = staff_room_ids(rt.config.staff_rooms)
    targets = await audience.resolve(TargetDirectory(rt.redis, rt.keys), to, exclude=staff)
    ann_id = AnnouncementId(f"A-{await rt.redis.incr(_key(rt, 'seq'))}")
    # Claim the key before writing anything, so two racing requests make one announcement.
    if idem_key and not await rt.redis.set(idem_key, ann_id, nx=True, ex=IDEMPOTENCY_TTL):
        return await _created_by_other(rt, str(await rt.redis.get(idem_key))), False
    now = time.time()
    scheduled = send_at is not None and send_at > now + 1.0
    chunked = not scheduled and len(targets) > bulk.CHUNK
    store = OutboxStore(rt)
    atts = [{"filename": a.filename, "mime": a.mime, "size": len(a.data)} for a in attachments]
    fields: dict[str | bytes | bytearray | memoryview[int] | int | float, Any] = {
        "text": text,
        "title": title or "",
        "priority": priority.value,
        "audience": to.strip(),
        "status": SCHEDULED if scheduled else SENDING,
        "created_at": repr(now),
        "send_at": repr(send_at) if send_at is not None else "",
        "target_count": len(targets),
        "attachments": json.dumps(atts, ensure_ascii=False),
        "created_by": created_by or "",
        "confirm": "1" if confirm else "",
    }
    pipe = rt.redis.pipeline(transaction=True)
    pipe.hset(_key(rt, ann_id), mapping=fields)
    pipe.zadd(rt.keys("announcements"), {ann_id: int(ann_id[2:])})
    pipe.sadd(_key(rt, ann_id, "targets"), *targets)
    if scheduled or chunked:
        due = send_at if scheduled and send_at is not None else now + ENQUEUE_GRACE
        pipe.zadd(rt.keys("announcements", "scheduled"), {ann_id: due})
        if attachments:  # the bytes must exist when the scheduler builds the deliveries
            pipe.hset(_key(rt, ann_id), "attachment_blobs", await stash(rt, attachments))
        if chunked:
            pipe.hset(_key(rt, ann_id), "enqueue_pending", "1")
    else:
        all_items = items(ann_id, targets, text, title, priority, attachments, confirm)
        bodies, args = await store.prepare(all_items)
        await store.add_to(pipe, bodies, args)
    await pipe.execute()
    if chunked:
        await enqueue_chunked(rt, ann_id, targets, attachments)
    elif not scheduled:
        await fail_unconfigured(rt, ann_id, targets)
    log.info("announcement created", extra={"id": ann_id, "targets": len(targets)})
    return await get(rt, ann_id), True


async def _created_by_other(rt: Runtime, ann_id: str) -> Announcement:
    """The announcement a concurrent request with the same key made: it may be a few
    milliseconds from being written (the key is claimed first), so wait for it briefly."""
    for _ in range(100):
        try:
            return await get(rt, ann_id)
        except NotFound:
            await asyncio.sleep(0.05)
    return await get(rt, ann_id)


async def dispatch_due(rt: Runtime, now: float | None = None) -> list[str]:
    """Move every announcement due by ``now`` from the schedule into the outbox."""
    sched = rt.keys("announcements", "scheduled")
    due = [str(i) for i in await rt.redis.zrangebyscore(sched, "-inf", now or time.time())]
    for ann_id in due:
        h = _strs(await rt.redis.hgetall(_key(rt, ann_id)))
        if h.get("status") == SCHEDULED or h.get("enqueue_pending") == "1":
            targets = sorted(str(t) for t in await rt.redis.smembers(_key(rt, ann_id, "targets")))
            # Sending from now on; the backstop moves ENQUEUE_GRACE ahead, so the other
            # processes' schedulers leave this one to us unless we die.
            pipe = rt.redis.pipeline(transaction=True)
            pipe.hset(_key(rt, ann_id), mapping={"status": SENDING, "enqueue_pending": "1"})
            pipe.zadd(sched, {ann_id: time.time() + ENQUEUE_GRACE})
            await pipe.execute()
            atts = await load_stashed(rt, h.get("attachment_blobs", ""))
            await enqueue_chunked(rt, ann_id, targets, atts)
            log.info("scheduled announcement due", extra={"id": ann_id, "targets": len(targets)})
            continue
        # Only now: a crash before this line leaves it scheduled, and the next tick
        # enqueues again, which the stable delivery ids turn into a no-op.
        await rt.redis.zrem(sched, ann_id)
    return due


async def run_scheduler(rt: Runtime) -> None:
    """The scheduler component: every second, send what is due."""
    while True:
        checkpoint()
        try:
            await dispatch_due(rt)
        except (RedisError, OSError) as exc:
            # Redis away (a restart, a failover): expected, and said like the others do.
            log.warning("scheduler: redis trouble, retrying", extra={"error": str(exc)})
        except Exception:
            log.exception("scheduler tick failed; trying again")
        await asyncio.sleep(SCHEDULER_TICK)


async def get(rt: Runtime, ann_id: str) -> Announcement:
    ann_id = parse_id(ann_id)
    h = _strs(await rt.redis.hgetall(_key(rt, ann_id)))
    if not h:
        raise NotFound(f"no announcement {ann_id}", zh=f"没有通知 {ann_id}")
    status = h.get("status", SENDING)
    if status == SENDING and not h.get("enqueue_pending"):
        counts = await OutboxStore(rt).counts(ORIGIN, ann_id)
        if not any(c.get(QUEUED, 0) for c in counts.values()):
            status = DONE
            await rt.redis.hset(_key(rt, ann_id), "status", DONE)
    return Announcement(
        id=ann_id,
        text=h.get("text", ""),
        title=h.get("title") or None,
        priority=Priority(h.get("priority") or "normal"),
        audience=h.get("audience", ""),
        status=status,
        created_at=float(h.get("created_at") or 0),
        send_at=float(h["send_at"]) if h.get("send_at") else None,
        target_count=int(h.get("target_count") or 0),
        attachments=tuple(json.loads(h.get("attachments") or "[]")),
        created_by=h.get("created_by") or None,
        confirm=h.get("confirm") == "1",
        pruned_at=float(h["pruned_at"]) if h.get("pruned_at") else None,
    )


async def list_recent(rt: Runtime, limit: int = 50) -> list[Announcement]:
    ids = await rt.redis.zrevrange(rt.keys("announcements"), 0, max(0, limit - 1))
    return [await get(rt, str(i)) for i in ids]


async def replies(rt: Runtime, ann_id: str) -> int:
    return int(await rt.redis.scard(_key(rt, ann_id, "replies")))


async def detail(rt: Runtime, ann_id: str) -> dict[str, Any]:
    """Everything ``show`` prints: status, counts by state and platform, deliveries, replies."""
    ann = await get(rt, ann_id)
    store = OutboxStore(rt)
    by_platform = await store.counts(ORIGIN, ann.id)
    totals: dict[str, int] = {}
    for c in by_platform.values():
        for state, n in c.items():
            totals[state] = totals.get(state, 0) + n
    deliveries = await store.of_origin(ORIGIN, ann.id)
    return {
        **ann.to_json(),
        "counts": totals,
        "by_platform": by_platform,
        "replies": await replies(rt, ann.id),
        "deliveries": [d.to_json() for d in deliveries],
    }


async def check_edit(rt: Runtime, ann_id: str, text: str) -> Announcement:
    """What ``edit`` refuses, checked without doing anything (the API answers 202 after)."""
    ann = await get(rt, ann_id)
    _check_text(text, None)
    if ann.status == RECALLED:
        raise Conflict(
            f"{ann.id} was recalled; it cannot be edited", zh=f"{ann.id} 已撤回，不能再修改"
        )
    _check_kept(ann)
    return ann


async def check_recall(rt: Runtime, ann_id: str) -> Announcement:
    """What ``recall`` refuses, checked without doing anything."""
    ann = await get(rt, ann_id)
    _check_kept(ann)
    return ann


def _check_kept(ann: Announcement) -> None:
    """Edit and recall need each chat's message ids, which pruning removed."""
    if ann.pruned_at is not None:
        raise Conflict(
            f"{ann.id} is too old to edit or recall: its per-chat records were removed "
            "(outbox.keep_days)",
            zh=f"{ann.id} 发出太久了，已无法修改或撤回：各会话的发送记录已按保留期清理",
        )


async def edit(
    rt: Runtime, ann_id: str, text: str, on_result: OnResult | None = None
) -> list[ActionResult]:
    ann = await check_edit(rt, ann_id, text)
    await rt.redis.hset(_key(rt, ann.id), mapping={"text": text, "edited_at": repr(time.time())})
    if ann.status == SCHEDULED:
        return []  # nothing went out yet: the new text is what will go out
    store = OutboxStore(rt)
    deliveries = await store.of_origin(ORIGIN, ann.id)
    queued = [d for d in deliveries if d.state == QUEUED]
    rebodied: set[str] = set()
    if queued:
        # Not sent yet: they go out with the new text instead.
        rebodied = await store.rebody(
            [d.delivery_id for d in queued], await store.message(queued[0], text=text)
        )
        deliveries = await store.many([d.delivery_id for d in deliveries])
    results = [
        ActionResult(d.target, d.platform, "updated", "not sent yet: goes out edited")
        if d.delivery_id in rebodied and d.state == QUEUED
        else None
        for d in deliveries
    ]
    rest = [d for d, r in zip(deliveries, results, strict=True) if r is None]
    if on_result is not None:
        for early in results:
            if early is not None:
                await on_result(early)
    done = iter(await apply(rt, rest, "edit", text=text, on_result=on_result))
    await rt.redis.hset(_key(rt, ann.id), "status", EDITED)
    return [r if r is not None else next(done) for r in results]


async def recall(rt: Runtime, ann_id: str, on_result: OnResult | None = None) -> list[ActionResult]:
    ann = await check_recall(rt, ann_id)
    # First: a chunked enqueue still running writes no chunk after this (bulk.py), so
    # the deliveries read below are all there will be.
    await rt.redis.hset(_key(rt, ann.id), "status", RECALLED)
    if ann.status == SCHEDULED:
        await rt.redis.zrem(rt.keys("announcements", "scheduled"), ann.id)
        return []
    deliveries = await OutboxStore(rt).of_origin(ORIGIN, ann.id)
    return await apply(rt, deliveries, "recall", on_result=on_result)


def _strs(h: Any) -> dict[str, str]:
    return {str(k): str(v) for k, v in dict(h).items()}
