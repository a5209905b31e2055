"""``/queue`` and ``/announce EXPR | TEXT`` (+ ``/confirm``) in a staff room.

An announcement from a room is a preview first: palm answers with the text and the
matched chats per platform, and stores the draft for ``CONFIRM_SECONDS``. A member's
``/confirm`` as a reply to the preview (or its **Send** button) creates it, with the
confirmer as the actor; the preview's message id is the idempotency key, so a second
confirmation (or a replay) never sends twice.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from typing import Any

from gateway import announcements, audience
from gateway.accounts import check_audience
from gateway.errors import GatewayError, InputError
from gateway.funnel import deadletters
from gateway.models import (
    Button,
    DeliveryId,
    InboundMessage,
    OutboundMessage,
    PlatformMessageId,
    TargetId,
    split_target_id,
)
from gateway.outbox import OutboxItem, enqueue, lookup_msgref
from gateway.rules import category_words
from gateway.runtime import Runtime
from gateway.staffroom import cards, report
from gateway.staffroom.config import StaffRoomConfig, staff_room_ids
from gateway.staffroom.notice import notice
from gateway.staffroom.scope import permits, room_scope
from gateway.staffroom.words import say
from gateway.targets import TargetDirectory

QUEUE_LIMIT = 10
SCAN_LIMIT = 1000
"""Open tickets looked at (oldest first) to find ten in a room's scope."""
CONFIRM_SECONDS = 600
NAMED = 10
"""Matched chats named per platform in a preview."""
PREVIEW_ORIGIN = "staffroom-announce"


# --- /queue -------------------------------------------------------------------


async def oldest_open(rt: Runtime, room: StaffRoomConfig) -> list[dict[str, Any]]:
    """The ten oldest open tickets in the room's scope (ticket hashes)."""
    r = rt.redis
    rows: list[tuple[str, float]] = []
    for status in ("new", "claimed"):
        raw: Any = await r.zrange(
            rt.keys("tickets", "age", status), 0, SCAN_LIMIT - 1, withscores=True
        )
        rows += [(str(m), float(s)) for m, s in raw]
    rows.sort(key=lambda x: x[1])
    directory = TargetDirectory(r, rt.keys)
    out: list[dict[str, Any]] = []
    for tid, _ in rows:
        h: Any = await r.hgetall(rt.keys("ticket", tid))
        if not h:
            continue
        if room.scope is not None:
            target = await directory.get(h["target"])
            tags = target.tags if target is not None else ()
            if not permits(room.scope, tags, group=h.get("chat_kind") == "group"):
                continue
        out.append(h)
        if len(out) == QUEUE_LIMIT:
            break
    return out


async def parked_in_scope(rt: Runtime, room: StaffRoomConfig) -> int:
    """How many parked residents' messages come from chats in the room's scope: the
    same list the console's queue page shows (``deadletters.for_staff``)."""
    return len(await deadletters.for_staff(rt.redis, rt.keys, room_scope(room.scope)))


async def queue_text(rt: Runtime, room: StaffRoomConfig) -> str:
    lang = rt.config.locale
    tickets = await oldest_open(rt, room)
    parked = await parked_in_scope(rt, room)
    tail = [say(lang, "parked", n=parked)] if parked else []
    if not tickets:
        return "\n".join([say(lang, "no_open"), *tail])
    now = time.time()
    lines = [say(lang, "oldest", n=len(tickets))]
    for h in tickets:
        age = cards.took(now - float(h.get("received_at") or now), lang)
        who = f" · {h['assignee']}" if h.get("assignee") else ""
        words = " ".join(str(h.get("text", "")).split())[:60]
        priority = say(lang, "urgent" if h.get("priority") == "urgent" else "normal")
        category = category_words(str(h.get("category") or "other"), lang)
        lines.append(
            f"{h['id']} · {priority} · {category} · {age} · "
            f"{h.get('resident_name', '?')}{who}{say(lang, 'colon')}{words}"
        )
    return "\n".join([*lines, *tail])


# --- /announce ----------------------------------------------------------------


def split_announce(raw: str) -> tuple[str, str]:
    """``EXPR | TEXT``: ``|`` is also "or" in an expression, so the split is at the
    last ``|`` whose left side is a valid expression."""
    parts = raw.split("|")
    for n in range(len(parts) - 1, 0, -1):
        expr, text = "|".join(parts[:n]).strip(), "|".join(parts[n:]).strip()
        try:
            audience.parse(expr)
        except GatewayError:
            continue
        if text:
            return expr, text
    raise InputError(say("en", "announce_usage"), zh=say("zh", "announce_usage"))


async def _audience(rt: Runtime, room: StaffRoomConfig, expr: str) -> list[str]:
    """The chats ``expr`` matches (never a staff room); 403 naming any outside the
    room's scope, as for a scoped account."""
    directory = TargetDirectory(rt.redis, rt.keys)
    chosen = await audience.resolve(directory, expr, exclude=staff_room_ids(rt.config.staff_rooms))
    await check_audience(directory, room_scope(room.scope), chosen)
    return chosen


async def _chat_lines(rt: Runtime, chosen: list[str], lang: str) -> str:
    """One line per platform naming the matched chats (the first ``NAMED`` of them)."""
    by_platform: dict[str, list[str]] = {}
    for t in await TargetDirectory(rt.redis, rt.keys).many(chosen):
        by_platform.setdefault(t.platform, []).append(t.title or t.id)
    lines = []
    for platform, names in sorted(by_platform.items()):
        more = say(lang, "and_more", n=len(names) - NAMED) if len(names) > NAMED else ""
        sep = "、" if lang == "zh" else ", "
        lines.append(f"{platform}{say(lang, 'colon')}{sep.join(names[:NAMED])}{more}")
    return "\n".join(lines)


def _pending_key(rt: Runtime, room: str, message_id: str) -> str:
    return rt.keys("staffroom", "draft", room, message_id)


async def preview(rt: Runtime, room: StaffRoomConfig, msg: InboundMessage) -> None:
    lang = rt.config.locale
    try:
        expr, text = split_announce(msg.text)
        chosen = await _audience(rt, room, expr)
    except GatewayError as exc:
        why = say(lang, "announce_refused", why=exc.say(lang))
        await notice(rt, room.target, msg.message_id, why, msg.message_id)
        return
    per = Counter(split_target_id(t)[0] for t in chosen)
    matched = ("，" if lang == "zh" else ", ").join(f"{p} {n}" for p, n in sorted(per.items()))
    chats = await _chat_lines(rt, chosen, lang)
    body = say(
        lang, "preview", expr=expr, matched=matched, chats=chats, text=text,
        minutes=CONFIRM_SECONDS // 60,
    )  # fmt: skip
    draft = {"to": expr, "text": text, "at": time.time(), "by": msg.sender.display_name}
    await rt.redis.set(
        _pending_key(rt, room.target, msg.message_id),
        json.dumps(draft, ensure_ascii=False),
        ex=CONFIRM_SECONDS,
    )
    did = DeliveryId(f"sr:announce:{room.target}:{msg.message_id}")
    telegram = split_target_id(room.target)[0] == "telegram"
    out = OutboundMessage(
        TargetId(room.target), body, did, reply_to=PlatformMessageId(msg.message_id), plain=True,
        buttons=(Button(say(lang, "send"), cards.CONFIRM),) if telegram else None,
    )  # fmt: skip
    await enqueue(rt, [OutboxItem(did, PREVIEW_ORIGIN, f"{room.target}|{msg.message_id}", out)])


async def confirm(
    rt: Runtime, room: StaffRoomConfig, preview_id: str | None, actor: str, reply_key: str | None
) -> str:
    """Send the draft behind the preview ``preview_id``; returns what to tell the member
    (also posted to the room when ``reply_key`` is given: a ``/confirm`` message)."""
    text = await _confirm(rt, room, preview_id, actor)
    if reply_key is not None:
        await notice(rt, room.target, reply_key, text, reply_key)
    return text


async def _confirm(rt: Runtime, room: StaffRoomConfig, preview_id: str | None, actor: str) -> str:
    lang = rt.config.locale
    if not preview_id:
        return say(lang, "confirm_how")
    origin = await lookup_msgref(rt, TargetId(room.target), PlatformMessageId(preview_id))
    if origin is None or origin[0] != PREVIEW_ORIGIN:
        return say(lang, "confirm_how")
    _, _, source = origin[1].rpartition("|")
    raw: Any = await rt.redis.get(_pending_key(rt, room.target, source))
    if not raw:
        return say(lang, "expired")
    draft = json.loads(raw)
    try:
        ann, _ = await announcements.create(
            rt,
            text=draft["text"],
            to=draft["to"],
            created_by=actor,
            idempotency_key=f"staffroom:{room.target}:{source}",
        )
    except GatewayError as exc:
        return say(lang, "not_sent", why=exc.say(lang))
    await report.watch(rt, ann.id, room.target, source)  # "sent to all 12 chats", later
    key = "sending_one" if ann.target_count == 1 else "sending"
    return say(lang, key, ann=ann.id, n=ann.target_count, who=actor)
