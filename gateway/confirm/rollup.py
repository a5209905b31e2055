"""The roll-up of a notice: per chat and per building, and who has not confirmed.

Per chat, the residents known there: on Matrix the room's joined members when the
notice went out (the bot excluded); on Telegram, which lists no members, the
residents seen writing or pressing in the group, beside ``getChatMemberCount``
("37 confirmed, 52 seen, 120 members"); a direct chat is its one resident. Anyone
who confirmed in a chat is known there.

Per building, households: every unit bound in a building the notice reached (a
building of any resident known in its chats). A household has confirmed when one
of its residents has, on either platform.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from gateway import announcements
from gateway.confirm.store import ChatMembers, Confirmation, ConfirmStore
from gateway.errors import InputError
from gateway.households import HouseholdStore, Unit, building_of
from gateway.models import ChatKind, split_target_id
from gateway.runtime import Runtime
from gateway.targets import TargetDirectory


@dataclass(frozen=True, slots=True)
class ChatRollup:
    target: str
    platform: str
    title: str
    confirmed: int
    known: int
    members: int | None
    """Telegram's member count (the bot excluded), when it was read."""
    pending: tuple[tuple[str, str], ...]
    """``(resident, name)`` known here and not confirmed."""

    def to_json(self) -> dict[str, Any]:
        return {
            "target": self.target, "platform": self.platform, "title": self.title,
            "confirmed": self.confirmed, "known": self.known, "members": self.members,
            "pending": [{"resident": r, "name": n} for r, n in self.pending],
        }  # fmt: skip

    def summary(self) -> str:
        if self.platform == "telegram" and self.members is not None:
            return f"{self.confirmed} confirmed, {self.known} seen, {self.members} members"
        return f"{self.confirmed}/{self.known} confirmed"


@dataclass(frozen=True, slots=True)
class BuildingRollup:
    building: str
    confirmed: int
    households: int
    pending: tuple[tuple[str, tuple[str, ...]], ...]
    """``(unit, residents' names)`` of households that have not confirmed."""

    def to_json(self) -> dict[str, Any]:
        return {
            "building": self.building, "confirmed": self.confirmed,
            "households": self.households,
            "pending": [{"unit": u, "residents": list(n)} for u, n in self.pending],
        }  # fmt: skip


@dataclass(frozen=True, slots=True)
class Rollup:
    announcement: str
    status: str
    confirmed: int
    chats: tuple[ChatRollup, ...]
    buildings: tuple[BuildingRollup, ...]
    unbound_pending: int
    """Residents who have not confirmed and are bound to no unit."""

    def to_json(self) -> dict[str, Any]:
        return {
            "announcement": self.announcement, "status": self.status,
            "confirmed": self.confirmed, "chats": [c.to_json() for c in self.chats],
            "buildings": [b.to_json() for b in self.buildings],
            "unbound_pending": self.unbound_pending,
        }  # fmt: skip


async def rollup(rt: Runtime, ann_id: str) -> Rollup:
    ann = await announcements.get(rt, ann_id)
    if not ann.confirm:
        raise InputError(
            f"{ann.id} does not ask residents to confirm (send with --confirm)",
            zh=f"{ann.id} 没有要求居民确认（发布时勾选「需要居民确认」才会有）",
        )
    store = ConfirmStore(rt.redis, rt.keys)
    targets = sorted(
        str(t) for t in await rt.redis.smembers(rt.keys("announcement", ann.id, "targets"))
    )
    confs = await store.all(ann.id)
    known = await known_residents(rt, ann.id, targets, confs)
    directory = TargetDirectory(rt.redis, rt.keys)
    snaps = await store.members(ann.id)
    chats = []
    for target in targets:
        names = known[target]
        found = await directory.get(target)
        snap = snaps.get(target)
        chats.append(ChatRollup(
            target, split_target_id(target)[0], (found.title if found else None) or "",
            sum(1 for r in names if r in confs), len(names), _count(target, snap),
            tuple((r, n) for r, n in sorted(names.items()) if r not in confs),
        ))  # fmt: skip
    everyone = {r: n for names in known.values() for r, n in names.items()}
    buildings, unbound = await _buildings(rt, everyone, confs)
    return Rollup(ann.id, ann.status, len(confs), tuple(chats), buildings, unbound)


def _count(target: str, snap: ChatMembers | None) -> int | None:
    return snap.count if snap is not None and target.startswith("telegram:") else None


async def known_residents(
    rt: Runtime, ann: str, targets: list[str], confs: dict[str, Confirmation]
) -> dict[str, dict[str, str]]:
    """Per chat, ``resident -> name`` of everyone known there."""
    store = ConfirmStore(rt.redis, rt.keys)
    snaps = await store.members(ann)
    kinds = await TargetDirectory(rt.redis, rt.keys).kinds(targets)
    seen = await store.seen_in([t for t in targets if t.startswith("telegram:")])
    out: dict[str, dict[str, str]] = {}
    for target in targets:
        platform, chat = split_target_id(target)
        names: dict[str, str] = {}
        if kinds.get(target) is ChatKind.DIRECT and platform == "telegram":
            names[f"telegram:{chat}"] = ""
        snap = snaps.get(target)
        if snap is not None and snap.members is not None:
            names.update({f"{platform}:{u}": n for u, n in snap.members})
        names.update(seen.get(target, {}))
        for resident, c in confs.items():
            if c.target == target:
                names[resident] = names.get(resident) or c.name
        out[target] = names
    return out


async def _buildings(
    rt: Runtime, everyone: dict[str, str], confs: dict[str, Confirmation]
) -> tuple[tuple[BuildingRollup, ...], int]:
    households = HouseholdStore(rt.redis, rt.keys, rt.config.households.unit_pattern)
    units = await households.units_of([*everyone, *confs])
    reached = {b for u in units.values() if (b := building_of(u, households.pattern))}
    by_building: dict[str, dict[str, list[Unit]]] = {}
    for bound in await households.list():
        if bound.building in reached:
            by_building.setdefault(bound.building, {}).setdefault(bound.unit, []).append(bound)
    out = []
    for building, homes in sorted(by_building.items()):
        done = {u for u, rs in homes.items() if any(r.resident in confs for r in rs)}
        pending = tuple(
            (u, tuple(r.name or everyone.get(r.resident) or r.resident for r in rs))
            for u, rs in sorted(homes.items()) if u not in done
        )  # fmt: skip
        out.append(BuildingRollup(building, len(done), len(homes), pending))
    unbound = sum(1 for r in everyone if r not in confs and r not in units)
    return tuple(out), unbound
