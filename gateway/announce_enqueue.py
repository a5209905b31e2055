"""An announcement's deliveries: built per target, enqueued (in chunks when the audience
is large, see ``gateway.announcements``) and failed at once on unconfigured platforms."""

from __future__ import annotations

from collections.abc import Sequence

from gateway.confirm.buttons import confirm_buttons
from gateway.models import DeliveryId, OutboundAttachment, OutboundMessage, Priority, TargetId
from gateway.outbox import OutboxItem, OutboxStore, bulk
from gateway.outbox.model import FAILED, QUEUED
from gateway.runtime import Runtime

ORIGIN = "announcement"
RECALLED = "recalled"
"""The announcement status ``gateway.announcements`` gives a recalled one."""
ENQUEUE_GRACE = 60.0
"""A chunked enqueue not finished this long after it began is finished by a scheduler."""


def _key(rt: Runtime, *parts: str) -> str:
    return rt.keys("announcement", *parts)


def delivery_id(ann: str, target: str) -> DeliveryId:
    return DeliveryId(f"{ann}:{target}")


def items(
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
        did = delivery_id(ann_id, target)
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


async def enqueue_chunked(
    rt: Runtime, ann_id: str, targets: Sequence[str], atts: Sequence[OutboundAttachment]
) -> None:
    """Enqueue in chunks (module docstring), each built from the hash's text and
    status read under ``WATCH``; then clear ``enqueue_pending`` and the backstop."""

    def build(h: dict[str, str], part: Sequence[str]) -> list[OutboxItem] | None:
        if h.get("status") == RECALLED:
            return None
        return items(
            ann_id, part, h["text"], h.get("title") or None, Priority(h["priority"]), atts,
            h.get("confirm") == "1",
        )  # fmt: skip

    async def after(part: Sequence[str]) -> None:
        await fail_unconfigured(rt, ann_id, part)

    await bulk.enqueue_chunks(rt, _key(rt, ann_id), targets, build, after)
    pipe = rt.redis.pipeline(transaction=True)
    pipe.hdel(_key(rt, ann_id), "enqueue_pending")
    pipe.zrem(rt.keys("announcements", "scheduled"), ann_id)
    await pipe.execute()


async def fail_unconfigured(rt: Runtime, ann_id: str, targets: Sequence[str]) -> None:
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
            await store.transition(delivery_id(ann_id, target), QUEUED, FAILED, reason=reason)
