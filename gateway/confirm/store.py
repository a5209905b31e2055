"""Confirmations in Redis: one per resident per announcement, first one wins.

Layout (under ``Keys``)::

    confirm:<A-id>             hash   resident -> {"at", "target", "platform", "name", "via"}
    confirm:<A-id>:members     hash   target -> {"count", "members": [[id, name], ...]}
    confirm:seen:<target>      hash   resident -> display name (Telegram groups: who wrote)
    confirm:<A-id>:reminded:<target>  string, with a TTL: the last reminder there

``HSETNX`` makes recording atomic across processes and replays: an inbound entry
handed out twice, or two palm processes racing, record one confirmation.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from redis.asyncio import Redis

from gateway.keys import Keys


@dataclass(frozen=True, slots=True)
class Confirmation:
    resident: str
    at: float
    target: str
    platform: str
    name: str
    via: str
    """``button``, ``reaction`` or ``reply``."""

    def to_json(self) -> dict[str, Any]:
        return {
            "resident": self.resident, "at": self.at, "target": self.target,
            "platform": self.platform, "name": self.name, "via": self.via,
        }  # fmt: skip


@dataclass(frozen=True, slots=True)
class ChatMembers:
    """A chat's members when the notice went out: Matrix lists them, Telegram counts."""

    count: int | None
    members: tuple[tuple[str, str], ...] | None
    """``(resident, name)``; ``None`` where the platform gives only a count."""


class ConfirmStore:
    def __init__(self, redis: Redis, keys: Keys) -> None:
        self.redis = redis
        self.keys = keys

    def _key(self, ann: str, *rest: str) -> str:
        return self.keys("confirm", ann, *rest)

    async def record(self, ann: str, c: Confirmation) -> bool:
        """``True`` when this is the resident's first confirmation of ``ann``."""
        body = json.dumps(
            {"at": c.at, "target": c.target, "platform": c.platform, "name": c.name,
             "via": c.via}, ensure_ascii=False,
        )  # fmt: skip
        return bool(await self.redis.hsetnx(self._key(ann), c.resident, body))

    async def all(self, ann: str) -> dict[str, Confirmation]:
        raw: Any = await self.redis.hgetall(self._key(ann))
        out = {}
        for resident, body in raw.items():
            d = json.loads(body)
            out[str(resident)] = Confirmation(
                str(resident), float(d["at"]), str(d["target"]), str(d["platform"]),
                str(d.get("name", "")), str(d.get("via", "")),
            )  # fmt: skip
        return out

    async def count(self, ann: str) -> int:
        return int(await self.redis.hlen(self._key(ann)))

    async def save_members(self, ann: str, target: str, members: ChatMembers) -> None:
        body = {"count": members.count, "members": members.members}
        await self.redis.hset(self._key(ann, "members"), target, json.dumps(body))

    async def members(self, ann: str) -> dict[str, ChatMembers]:
        raw: Any = await self.redis.hgetall(self._key(ann, "members"))
        out = {}
        for target, body in raw.items():
            d = json.loads(body)
            listed = d.get("members")
            members = tuple((str(a), str(b)) for a, b in listed) if listed is not None else None
            out[str(target)] = ChatMembers(d.get("count"), members)
        return out

    async def seen(self, target: str, resident: str, name: str) -> None:
        await self.redis.hset(self.keys("confirm", "seen", target), resident, name)

    async def seen_in(self, targets: Iterable[str]) -> dict[str, dict[str, str]]:
        out: dict[str, dict[str, str]] = {}
        for target in targets:
            raw: Any = await self.redis.hgetall(self.keys("confirm", "seen", target))
            out[target] = {str(k): str(v) for k, v in raw.items()}
        return out

    async def next_reminders(
        self, ann: str, targets: Iterable[str], every: float
    ) -> dict[str, float]:
        """When each chat reminded within ``every`` seconds may be reminded again."""
        out = {}
        for target in targets:
            last: Any = await self.redis.get(self._key(ann, "reminded", target))
            if last:
                out[target] = float(last) + every
        return out

    async def claim_reminder(self, ann: str, target: str, every: float, now: float) -> float:
        """``0`` when a reminder may go out now (and it is claimed); else when it may."""
        key = self._key(ann, "reminded", target)
        if every <= 0 or await self.redis.set(key, repr(now), nx=True, ex=max(1, int(every))):
            return 0.0
        last: Any = await self.redis.get(key)
        return float(last or now) + every
