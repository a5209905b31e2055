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
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from gateway import audience
from gateway.aio import checkpoint
from gateway.attachments import load_blob, store_blob
from gateway.confirm.buttons import confirm_buttons
from gateway.errors import Conflict, InputError, NotFound
from gateway.models import (
    AnnouncementId,
    AttachmentKind,
    DeliveryId,
    OutboundAttachment,
    OutboundMessage,
    Priority,
    TargetId,
)
from gateway.outbox import OutboxItem, OutboxStore
from gateway.outbox.actions import ActionResult, apply
from gateway.outbox.model import FAILED, QUEUED
from gateway.runtime import Runtime
from gateway.staffroom.config import staff_room_ids
from gateway.targets import TargetDirectory

log = logging.getLogger("palm.announcements")

ORIGIN = "announcement"
IDEMPOTENCY_TTL = 24 * 3600
MAX_TEXT = 20_000
MAX_TITLE = 200
SCHEDULER_TICK = 1.0

SCHEDULED, SENDING, DONE, EDITED, RECALLED = "scheduled", "sending", "done", "edited", "recalled"


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
        }


def _key(rt: Runtime, *parts: str) -> str:
    return rt.keys("announcement", *parts)


def parse_id(raw: str) -> AnnouncementId:
    raw = raw.strip().upper()
    if not raw.startswith("A-") or not raw[2:].isdigit():
        raise InputError(f"{raw!r} is not an announcement id (like A-17)")
    return AnnouncementId(raw)


def _delivery_id(ann: str, target: str) -> DeliveryId:
    return DeliveryId(f"{ann}:{target}")


def _check_text(text: str, title: str | None) -> None:
    if not text.strip():
        raise InputError("the announcement text is empty")
    if len(text) > MAX_TEXT:
        raise InputError(f"the announcement text is longer than {MAX_TEXT} characters")
    if title is not None and len(title) > MAX_TITLE:
        raise InputError(f"the title is longer than {MAX_TITLE} characters")


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
        return await get(rt, str(existing)), False
    _check_text(text, title)
    # A staff room is never an audience, ``*`` included.
    staff = staff_room_ids(rt.config.staff_rooms)
    targets = await audience.resolve(TargetDirectory(rt.redis, rt.keys), to, exclude=staff)
    ann_id = AnnouncementId(f"A-{await rt.redis.incr(_key(rt, 'seq'))}")
    # Claim the key before writing anything, so two racing requests make one announcement.
    if idem_key and not await rt.redis.set(idem_key, ann_id, nx=True, ex=IDEMPOTENCY_TTL):
        return await get(rt, str(await rt.redis.get(idem_key))), False
    now = time.time()
    scheduled = send_at is not None and send_at > now + 1.0
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
    if scheduled:
        assert send_at is not None
        pipe.zadd(rt.keys("announcements", "scheduled"), {ann_id: send_at})
        if attachments:  # the bytes must exist when the scheduler builds the deliveries
            stashed = await _stash_attachments(rt, attachments)
            pipe.hset(_key(rt, ann_id), "attachment_blobs", stashed)
    else:
        items = _items(ann_id, targets, text, title, priority, attachments, confirm)
        bodies, args = await store.prepare(items)
        await store.add_to(pipe, bodies, args)
    await pipe.execute()
    if not scheduled:
        await _fail_unconfigured(rt, ann_id, targets)
    log.info("announcement created", extra={"id": ann_id, "targets": len(targets)})
    return await get(rt, ann_id), True


def _items(
    ann_id: str,
    targets: Sequence[str],
    text: str,
    title: str | None,
    priority: Priority,
    attachments: Sequence[OutboundAttachment],
    confirm: bool = False,
) -> list[OutboxItem]:
    items = []
    for target in targets:
        did = _delivery_id(ann_id, target)
        msg = OutboundMessage(
            target=TargetId(target),
            text=text,
            idempotency_key=did,
            title=title,
            attachments=tuple(attachments),
            priority=priority,
            buttons=confirm_buttons() if confirm else None,
        )
        items.append(OutboxItem(did, ORIGIN, ann_id, msg))
    return items


async def _stash_attachments(rt: Runtime, attachments: Sequence[OutboundAttachment]) -> str:
    refs = []
    for a in attachments:
        ref = await store_blob(rt, a.data)
        refs.append({"kind": a.kind.value, "filename": a.filename, "mime": a.mime, "blob": ref.sha})
    return json.dumps(refs)


async def _load_stashed(rt: Runtime, raw: str) -> list[OutboundAttachment]:
    out = []
    for a in json.loads(raw or "[]"):
        data = await load_blob(rt, a["blob"])
        out.append(OutboundAttachment(AttachmentKind(a["kind"]), a["filename"], a["mime"], data))
    return out


async def _fail_unconfigured(rt: Runtime, ann_id: str, targets: Sequence[str]) -> None:
    """Targets on a platform this config does not run would wait forever: fail them now.

    Only when the config names platforms at all (a config without any, as in core
    tests, leaves the choice of adapters to whoever runs the workers).
    """
    platforms = rt.config.platforms
    configured = {name for name in ("telegram", "matrix") if getattr(platforms, name)}
    if not configured:
        return
    store = OutboxStore(rt)
    for target in targets:
        platform = target.partition(":")[0]
        if platform not in configured:
            reason = f"{platform} is not configured"
            await store.transition(_delivery_id(ann_id, target), QUEUED, FAILED, reason=reason)


async def dispatch_due(rt: Runtime, now: float | None = None) -> list[str]:
    """Move every announcement due by ``now`` from the schedule into the outbox."""
    sched = rt.keys("announcements", "scheduled")
    due = [str(i) for i in await rt.redis.zrangebyscore(sched, "-inf", now or time.time())]
    for ann_id in due:
        h = _strs(await rt.redis.hgetall(_key(rt, ann_id)))
        if h.get("status") == SCHEDULED:
            targets = sorted(str(t) for t in await rt.redis.smembers(_key(rt, ann_id, "targets")))
            atts = await _load_stashed(rt, h.get("attachment_blobs", ""))
            items = _items(
                ann_id, targets, h["text"], h.get("title") or None, Priority(h["priority"]), atts,
                h.get("confirm") == "1",
            )  # fmt: skip
            store = OutboxStore(rt)
            bodies, args = await store.prepare(items)
            pipe = rt.redis.pipeline(transaction=True)
            await store.add_to(pipe, bodies, args)
            pipe.hset(_key(rt, ann_id), "status", SENDING)
            await pipe.execute()
            await _fail_unconfigured(rt, ann_id, targets)
            log.info("scheduled announcement due", extra={"id": ann_id, "targets": len(targets)})
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
        except Exception:
            log.exception("scheduler tick failed; trying again")
        await asyncio.sleep(SCHEDULER_TICK)


async def get(rt: Runtime, ann_id: str) -> Announcement:
    ann_id = parse_id(ann_id)
    h = _strs(await rt.redis.hgetall(_key(rt, ann_id)))
    if not h:
        raise NotFound(f"no announcement {ann_id}")
    status = h.get("status", SENDING)
    if status == SENDING:
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


async def edit(rt: Runtime, ann_id: str, text: str) -> list[ActionResult]:
    ann = await get(rt, ann_id)
    _check_text(text, None)
    if ann.status == RECALLED:
        raise Conflict(f"{ann.id} was recalled; it cannot be edited")
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
    done = iter(await apply(rt, rest, "edit", text=text))
    await rt.redis.hset(_key(rt, ann.id), "status", EDITED)
    return [r if r is not None else next(done) for r in results]


async def recall(rt: Runtime, ann_id: str) -> list[ActionResult]:
    ann = await get(rt, ann_id)
    if ann.status == SCHEDULED:
        await rt.redis.zrem(rt.keys("announcements", "scheduled"), ann.id)
        await rt.redis.hset(_key(rt, ann.id), "status", RECALLED)
        return []
    deliveries = await OutboxStore(rt).of_origin(ORIGIN, ann.id)
    results = await apply(rt, deliveries, "recall")
    await rt.redis.hset(_key(rt, ann.id), "status", RECALLED)
    return results


def _strs(h: Any) -> dict[str, str]:
    return {str(k): str(v) for k, v in dict(h).items()}
