"""The targets directory: every chat palm can post into, with kind, title, tags and state.

Layout (all under ``Keys``)::

    target:<id>           hash  platform, kind, title, state, reason, updated_at
    target-tags:<id>      set   the target's tags
    schema:target-tags    "2" once tag sets written by older palms were moved
    targets:all           set   every known target id
    targets:active        set   ids that are active AND approved (what audiences select)
    targets:active:group  set   active approved group targets (what ``*`` means)
    targets:pending       set   ids awaiting an admin's approval
    tag:<tag>             set   ids carrying the tag (active or not)
    tags                  set   every tag in use

The tags set used to be ``target:<id>:tags``, which is also the hash of a target whose
id ends in ``:tags`` (a Matrix room on a server called ``tags``): the two collided.
Each key family now has its own prefix; ``migrate_tag_keys`` moves old sets once, at
start (an old set is a Redis *set*, a target's hash a *hash*, so they never mix up).

Audience resolution only reads the index sets (``SMEMBERS``), never ``SCAN``s, so a
directory of 100k targets resolves in one round trip per tag.
"""

from __future__ import annotations

import builtins
import time
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from redis.asyncio import Redis

from gateway import targets_lua as lua
from gateway.errors import InputError, NotFound
from gateway.keys import Keys
from gateway.models import ChatKind, Platform, TargetId, split_target_id
from gateway.safety.inert import visible
from gateway.tags import validate_tag

if TYPE_CHECKING:
    from gateway.runtime import Runtime

__all__ = ["Target", "TargetDirectory", "validate_tag"]

ACTIVE = "active"
INACTIVE = "inactive"


def parse_target_id(raw: str) -> TargetId:
    try:
        split_target_id(raw)
    except ValueError as exc:
        raise InputError(
            str(exc),
            zh=f"「{visible(raw, one_line=True)}」不是会话编号"
            "（应像 telegram:-100123 或 matrix:!房间:服务器 这样）",
        ) from None
    return TargetId(raw)


def _no_target(target: TargetId) -> NotFound:
    return NotFound(f"no target {target}", zh=f"没有会话 {target}")


@dataclass(frozen=True, slots=True)
class Target:
    id: TargetId
    platform: Platform
    kind: ChatKind
    title: str | None
    tags: tuple[str, ...]
    state: str
    """``active`` or ``inactive``."""
    reason: str | None
    updated_at: float
    admission: str = lua.APPROVED
    """The admins' side, a hash field too (``state`` is the platform's side: the bot
    can post there, or was removed, ``reason``): ``approved``, ``pending`` or
    ``rejected``. A hash without it, written before admission existed, is approved.
    Only a target both active and approved is in the active indexes, so a pending
    chat is never selected."""

    @property
    def active(self) -> bool:
        """Selectable by an audience: the bot is there and an admin let the chat in."""
        return self.state == ACTIVE and self.admission == lua.APPROVED

    def to_json(self) -> dict[str, object]:
        return {
            "id": self.id,
            "platform": self.platform,
            "kind": self.kind.value,
            "title": self.title,
            "tags": list(self.tags),
            "state": self.state,
            "reason": self.reason,
            "admission": self.admission,
            "updated_at": self.updated_at,
        }


class TargetDirectory:
    def __init__(self, redis: Redis, keys: Keys) -> None:
        self._r = redis
        self._k = keys
        self._upsert = redis.register_script(lua.UPSERT_LUA)
        self._admit = redis.register_script(lua.ADMIT_LUA)
        self._retitle = redis.register_script(lua.RETITLE_LUA)

    # --- keys ---------------------------------------------------------------
    @property
    def hash_prefix(self) -> str:
        """``hash_prefix + target`` is a target's hash (Lua scripts elsewhere read it)."""
        return self._k("target", "")

    def _hash(self, target: str) -> str:
        return self._k("target", target)

    def _tags(self, target: str) -> str:
        return self._k("target-tags", target)

    def _tag(self, tag: str) -> str:
        return self._k("tag", tag)

    @property
    def _all(self) -> str:
        return self._k("targets", "all")

    @property
    def _active(self) -> str:
        return self._k("targets", "active")

    @property
    def _active_group(self) -> str:
        return self._k("targets", "active", "group")

    # --- writes -------------------------------------------------------------
    async def upsert(
        self,
        target: TargetId,
        kind: ChatKind,
        title: str | None,
        *,
        reason: str | None = None,
        new_admission: str = lua.APPROVED,
        admission: str | None = None,
    ) -> tuple[str, bool]:
        """Register or refresh a target. ``reason`` set: inactive with it; else active.

        A chat not known yet gets ``new_admission``; ``admission`` overrides the stored
        decision (approve, reject, a seed). Tags are never touched here, so a
        re-register keeps the operator's tagging. Returns (admission, created).
        """
        platform, _ = split_target_id(target)
        out = await self._upsert(
            keys=[],
            args=[
                self._k.prefix,
                target,
                platform,
                kind.value,
                title or "",
                reason or "",
                repr(time.time()),
                new_admission,
                admission or "",
            ],
        )
        return str(out[0]), bool(int(out[1]))

    async def set_admission(self, target: TargetId, admission: str) -> None:
        """Approve, reject (or put back to pending) a known target; ``NotFound`` if unknown."""
        if admission not in lua.ADMISSIONS:
            raise InputError(
                f"admission: expected one of {', '.join(lua.ADMISSIONS)}",
                zh=f"准入方式应为 {'、'.join(lua.ADMISSIONS)} 之一",
            )
        found = await self._admit(
            keys=[], args=[self._k.prefix, target, admission, repr(time.time())]
        )
        if not int(found):
            raise _no_target(target)

    async def retitle(self, target: TargetId, title: str) -> None:
        """A known chat's name as its messages show it (seeded without one); an unknown
        target is left unknown."""
        await self._retitle(keys=[self._hash(target)], args=[title])

    async def mark_inactive(
        self, target: TargetId, reason: str, *, new_admission: str = lua.APPROVED
    ) -> None:
        existing = await self.get(target)
        kind = existing.kind if existing else ChatKind.GROUP
        await self.upsert(
            target, kind, None, reason=reason or "inactive", new_admission=new_admission
        )

    async def migrate(
        self, old: TargetId, new: TargetId, *, new_admission: str = lua.APPROVED
    ) -> None:
        """The chat moved: ``new`` takes over the title, kind and tags; ``old`` goes inactive.

        ``new_admission``: the decision for a chat palm never knew under either id."""
        previous = await self.get(old)
        kind = previous.kind if previous else ChatKind.GROUP
        title = previous.title if previous else None
        tags = previous.tags if previous else ()
        # The new id inherits the admins' decision: a pending group stays pending.
        admission = previous.admission if previous else None
        await self.upsert(new, kind, title, admission=admission, new_admission=new_admission)
        if tags:
            await self.tag(new, tags)
            await self.untag(old, tags)
        await self.upsert(old, kind, None, reason=f"migrated to {new}", new_admission=new_admission)

    async def tag(self, target: TargetId, tags: Iterable[str]) -> None:
        clean = [validate_tag(t) for t in tags]
        if not clean:
            return
        if not await self._r.exists(self._hash(target)):
            raise _no_target(target)
        pipe = self._r.pipeline(transaction=True)
        pipe.sadd(self._tags(target), *clean)
        pipe.sadd(self._k("tags"), *clean)
        for t in clean:
            pipe.sadd(self._tag(t), target)
        await pipe.execute()

    async def untag(self, target: TargetId, tags: Iterable[str]) -> None:
        # NFC like validate_tag, so the tag is found however it was typed; no other
        # check, so a tag stored before the validator tightened can still be removed.
        clean = [unicodedata.normalize("NFC", t.strip()) for t in tags if t.strip()]
        if not clean:
            return
        pipe = self._r.pipeline(transaction=True)
        pipe.srem(self._tags(target), *clean)
        for t in clean:
            pipe.srem(self._tag(t), target)
        await pipe.execute()

    async def set_tags(self, target: TargetId, tags: Sequence[str]) -> Target:
        """Replace the target's tags (the API's ``PATCH /targets/{id}``)."""
        current = await self.get(target)
        if current is None:
            raise _no_target(target)
        wanted = {validate_tag(t) for t in tags}
        await self.untag(target, set(current.tags) - wanted)
        await self.tag(target, wanted - set(current.tags))
        updated = await self.get(target)
        assert updated is not None
        return updated

    # --- reads --------------------------------------------------------------
    async def get(self, target: str) -> Target | None:
        pipe = self._r.pipeline(transaction=False)
        pipe.hgetall(self._hash(target))
        pipe.smembers(self._tags(target))
        data, tags = await pipe.execute()
        return _target(target, data, tags) if data else None

    async def list(self, tag: str | None = None) -> builtins.list[Target]:
        ids = await self._r.smembers(self._tag(tag) if tag else self._all)
        return await self.many(sorted(str(i) for i in ids))

    async def many(self, ids: Sequence[str]) -> builtins.list[Target]:
        out: list[Target] = []
        for start in range(0, len(ids), 1000):
            chunk = ids[start : start + 1000]
            pipe = self._r.pipeline(transaction=False)
            for t in chunk:
                pipe.hgetall(self._hash(t))
                pipe.smembers(self._tags(t))
            res = await pipe.execute()
            for i, t in enumerate(chunk):
                data, tags = res[2 * i], res[2 * i + 1]
                if data:
                    out.append(_target(t, data, tags))
        return out

    async def kinds(self, ids: Sequence[str]) -> dict[str, ChatKind]:
        pipe = self._r.pipeline(transaction=False)
        for t in ids:
            pipe.hget(self._hash(t), "kind")
        res = await pipe.execute()
        return {t: ChatKind(k) if k else ChatKind.GROUP for t, k in zip(ids, res, strict=True)}

    async def active_ids(self) -> set[str]:
        return {str(m) for m in await self._r.smembers(self._active)}

    async def which_active(self, ids: Iterable[str]) -> set[str]:
        """The active ones among ``ids`` (SMISMEMBER in chunks)."""
        ordered = list(ids)
        out: set[str] = set()
        for start in range(0, len(ordered), 5000):
            chunk = ordered[start : start + 5000]
            flags = await self._r.smismember(self._active, chunk)
            out.update(t for t, f in zip(chunk, flags, strict=True) if f)
        return out

    async def pending_ids(self) -> builtins.list[str]:
        return sorted(str(m) for m in await self._r.smembers(self._k("targets", "pending")))

    async def active_group_ids(self) -> set[str]:
        return {str(m) for m in await self._r.smembers(self._active_group)}

    async def tagged(self, tags: Iterable[str]) -> dict[str, set[str]]:
        """Members of each tag set, in one round trip."""
        names = list(dict.fromkeys(tags))
        pipe = self._r.pipeline(transaction=False)
        for t in names:
            pipe.smembers(self._tag(t))
        res = await pipe.execute()
        return {t: set(m) for t, m in zip(names, res, strict=True)}


def _target(target: str, data: dict[str, str], tags: set[str]) -> Target:
    platform, _ = split_target_id(target)
    return Target(
        id=TargetId(target),
        platform=Platform(data.get("platform") or platform),
        kind=ChatKind(data.get("kind") or ChatKind.GROUP.value),
        title=data.get("title") or None,
        tags=tuple(sorted(tags)),
        state=data.get("state") or ACTIVE,
        reason=data.get("reason") or None,
        updated_at=float(data.get("updated_at") or 0.0),
        admission=data.get("admission") or lua.APPROVED,
    )


_MIGRATED = "2"


async def migrate_tag_keys(redis: Redis, keys: Keys) -> int:
    """Move tag sets from ``target:<id>:tags`` to ``target-tags:<id>``; once (a marker).

    Returns how many sets moved. Idempotent, and safe to run from several processes:
    each move is one MULTI (merge into the new set, delete the old one).
    """
    marker = keys("schema", "target-tags")
    if await redis.get(marker) == _MIGRATED:
        return 0
    ids = sorted(str(t) for t in await redis.smembers(keys("targets", "all")))
    moved = 0
    for start in range(0, len(ids), 1000):
        chunk = ids[start : start + 1000]
        pipe = redis.pipeline(transaction=False)
        for t in chunk:
            pipe.type(keys("target", t, "tags"))
        kinds = await pipe.execute()
        pipe = redis.pipeline(transaction=True)
        for t, kind in zip(chunk, kinds, strict=True):
            if kind == "set":  # a "hash" there is the target whose id ends in ":tags"
                old, new = keys("target", t, "tags"), keys("target-tags", t)
                pipe.sunionstore(new, [new, old])
                pipe.delete(old)
                moved += 1
        await pipe.execute()
    await redis.set(marker, _MIGRATED)
    return moved


async def seed_targets(rt: Runtime) -> None:
    """Register ``config.targets`` (on start): add their tags, never remove any."""
    await migrate_tag_keys(rt.redis, rt.keys)
    directory = TargetDirectory(rt.redis, rt.keys)
    for seed in rt.config.targets:
        target = TargetId(seed.id)
        existing = await directory.get(target)
        if existing is None or existing.state == ACTIVE:
            await directory.upsert(target, ChatKind(seed.kind), seed.title, admission=lua.APPROVED)
        elif existing.admission != lua.APPROVED:  # gone for now, but let in when it is back
            await directory.upsert(
                target,
                existing.kind,
                None,
                reason=existing.reason or INACTIVE,
                admission=lua.APPROVED,
            )
        if seed.tags:
            await directory.tag(target, seed.tags)
