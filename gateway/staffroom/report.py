"""When an announcement a staff room sent is out, the room hears how it went.

``/announce`` … ``/confirm`` answered "A-3: sending to 12 chats" and then nothing: to
learn that one chat had removed the bot, a member had to open the console. Now the
confirmation puts the announcement on a watch list (``staffroom:reports``: announcement
id -> the room and the member's ``/announce`` message), and this component looks at the
list every ``TICK`` seconds. Once nothing is queued any more it posts one answer under the
``/announce`` message: "sent to all 12 chats", or how many were not sent, each with the
chat's name and why, in words (``gateway.console.reasons``). A recalled announcement
is dropped from the list without a report (the member recalled it).

The answer's delivery id is the announcement's, so two palm processes that both see it
done post it once; a crash between the post and the removal from the list only
enqueues the same id again (a no-op).
"""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

from redis.exceptions import RedisError

from gateway import announcements
from gateway.aio import checkpoint
from gateway.console.reasons import said
from gateway.errors import NotFound, RetryableError
from gateway.outbox import OutboxStore
from gateway.runtime import Runtime
from gateway.staffroom.notice import notice
from gateway.staffroom.words import say
from gateway.targets import TargetDirectory

log = logging.getLogger("palm.staffroom")

TICK = 2.0
LISTED = 10
"""Failed chats named one by one; the rest are counted."""
_FINISHED = (announcements.DONE, announcements.EDITED)


def _key(rt: Runtime) -> str:
    return rt.keys("staffroom", "reports")


async def watch(rt: Runtime, ann_id: str, room: str, reply_to: str) -> None:
    """Report on ``ann_id`` in ``room``, under the message ``reply_to``, once it is out."""
    value = json.dumps({"room": room, "reply_to": reply_to})
    await rt.redis.hsetnx(_key(rt), ann_id, value)


async def report_once(rt: Runtime) -> int:
    """Post the reports of the watched announcements that are out; how many."""
    watched: Any = await rt.redis.hgetall(_key(rt))  # decode_responses: str -> str
    posted = 0
    for ann_id, raw in sorted(watched.items()):
        where = json.loads(raw)
        try:
            # The status and the counts first (two reads): the whole detail reads every
            # delivery, which a large announcement still going out must not cost each tick.
            ann = await announcements.get(rt, ann_id)
        except NotFound:
            await rt.redis.hdel(_key(rt), ann_id)
            continue
        if ann.status == announcements.RECALLED:
            await rt.redis.hdel(_key(rt), ann_id)
            continue
        if ann.status not in _FINISHED or await _queued(rt, ann_id):
            continue
        text = await summary(rt, await announcements.detail(rt, ann_id), rt.config.locale)
        await notice(rt, where["room"], where["reply_to"], text, f"report:{ann_id}")
        await rt.redis.hdel(_key(rt), ann_id)
        posted += 1
    return posted


async def _queued(rt: Runtime, ann_id: str) -> int:
    counts = await OutboxStore(rt).counts(announcements.ORIGIN, ann_id)
    return sum(c.get("queued", 0) for c in counts.values())


async def summary(rt: Runtime, detail: dict[str, Any], lang: str) -> str:
    """ "A-3: sent to all 12 chats." or the count not sent and, per chat, why."""
    ann, counts = detail["id"], detail["counts"]
    total = sum(counts.values())
    failed = [d for d in detail["deliveries"] if d.get("state") == "failed"]
    if not failed:
        return say(lang, "report_all", ann=ann, n=total)
    lines = [say(lang, "report_some", ann=ann, sent=counts.get("sent", 0), n=total,
                 failed=len(failed))]  # fmt: skip
    shown = failed[:LISTED]
    targets = await TargetDirectory(rt.redis, rt.keys).many([d["target"] for d in shown])
    titles = {t.id: t.title for t in targets}
    for d in shown:
        why = said(d["reason"], lang) if d.get("reason") else ""
        name = titles.get(d["target"]) or d["target"]
        lines.append(say(lang, "report_line", chat=name, why=why))
    if len(failed) > LISTED:
        lines.append(say(lang, "report_more", n=len(failed) - LISTED))
    return "\n".join(lines)


async def run_reports(rt: Runtime) -> None:
    """The loop (part of the staff-room component)."""
    while True:
        checkpoint()
        try:
            await report_once(rt)
        except (RetryableError, RedisError, OSError) as exc:
            checkpoint()
            log.warning("staff-room reports: redis trouble", extra={"error": str(exc)})
        except Exception:  # a bug here must not stop the cards beside it
            checkpoint()
            log.exception("staff-room reports failed; trying again")
        await asyncio.sleep(TICK)
