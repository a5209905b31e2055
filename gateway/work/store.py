"""Where background work lives in Redis.

Layout (under ``Keys``)::

    work:seq                        counter     W-<n>
    work:<id>                       hash        announcement, action, text, status, by, times
    work:<id>:results               hash        target -> JSON result (first word wins)
    work:stream                     stream      ids to run (consumer group "work")
    announcement:<id>:work          list        the announcement's work ids, oldest first
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any, Literal

from gateway import announcements
from gateway.console.events import publish
from gateway.errors import InputError
from gateway.outbox.actions import ActionResult
from gateway.runtime import Runtime

WorkAction = Literal["edit", "recall"]
GROUP = "work"
QUEUED, RUNNING, DONE = "queued", "running", "done"
KEEP_SECONDS = 30 * 86400


@dataclass(frozen=True, slots=True)
class Work:
    id: str
    announcement: str
    action: str
    text: str | None
    status: str
    by: str
    created_at: float
    finished_at: float | None


class WorkStore:
    def __init__(self, rt: Runtime) -> None:
        self.rt = rt
        self._k = rt.keys

    @property
    def stream(self) -> str:
        return self._k("work", "stream")

    def key(self, work_id: str, *parts: str) -> str:
        return self._k("work", work_id, *parts)

    async def get(self, work_id: str) -> Work | None:
        h: Any = await self.rt.redis.hgetall(self.key(work_id))
        if not h:
            return None
        return Work(
            id=work_id, announcement=h["announcement"], action=h["action"],
            text=h.get("text") or None, status=h["status"], by=h.get("by", ""),
            created_at=float(h["created_at"]),
            finished_at=float(h["finished_at"]) if h.get("finished_at") else None,
        )  # fmt: skip

    async def record(self, w: Work, result: ActionResult) -> None:
        """One chat's result; a second word on the same chat (work taken over) is ignored."""
        body = json.dumps(result.to_json(), ensure_ascii=False)
        if await self.rt.redis.hsetnx(self.key(w.id, "results"), result.target, body):
            await publish(
                self.rt.redis, self._k, "action", w.announcement, result.target,
                {"work": w.id, "action": w.action, **result.to_json()},
            )  # fmt: skip

    async def set_status(self, w: Work, status: str) -> None:
        fields: dict[Any, Any] = {"status": status}
        if status == DONE:
            fields["finished_at"] = repr(time.time())
        await self.rt.redis.hset(self.key(w.id), mapping=fields)
        await publish(self.rt.redis, self._k, "action", w.announcement, "",
                      {"work": w.id, "action": w.action, "status": status})  # fmt: skip

    async def of_announcement(self, ann_id: str, limit: int = 20) -> list[dict[str, Any]]:
        """The announcement's latest work, newest first, each with its per-chat results."""
        ids: Any = await self.rt.redis.lrange(self._k("announcement", ann_id, "work"), -limit, -1)
        out = []
        for work_id in reversed([str(i) for i in ids]):
            w = await self.get(work_id)
            if w is None:
                continue
            raw: Any = await self.rt.redis.hgetall(self.key(work_id, "results"))
            results = sorted((json.loads(v) for v in raw.values()), key=lambda r: r["target"])
            out.append({
                "id": w.id, "action": w.action, "status": w.status, "by": w.by,
                "created_at": w.created_at, "finished_at": w.finished_at, "results": results,
            })  # fmt: skip
        return out


async def submit(
    rt: Runtime, ann_id: str, action: WorkAction, *, text: str | None = None, by: str = ""
) -> str:
    """Check what can be checked now (404, 409, bad text), then queue the work: its id."""
    if action == "edit":
        if text is None:
            raise InputError("text: required for an edit", zh="修改通知需要填写新的内容")
        ann = await announcements.check_edit(rt, ann_id, text)
    else:
        ann = await announcements.check_recall(rt, ann_id)
    store = WorkStore(rt)
    work_id = f"W-{await rt.redis.incr(rt.keys('work', 'seq'))}"
    pipe = rt.redis.pipeline(transaction=True)
    pipe.hset(store.key(work_id), mapping={
        "announcement": ann.id, "action": action, "text": text or "", "status": QUEUED,
        "by": by, "created_at": repr(time.time()),
    })  # fmt: skip
    pipe.expire(store.key(work_id), KEEP_SECONDS)
    pipe.rpush(rt.keys("announcement", ann.id, "work"), work_id)
    pipe.xadd(store.stream, {"work": work_id})
    await pipe.execute()
    return work_id
