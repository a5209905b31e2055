"""What a principal sees: tickets, queue figures, targets and announcements, scoped.

Every read and every ticket or announcement action of the API and the CLI goes
through here with the caller's scope (``None``: everything), so the rule "only chats
inside the scope" is applied in one place. Out-of-scope tickets and announcements
answer 404, as if they did not exist; an audience or a target outside answers 403
naming the chats (``check_audience``).
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import Any

from gateway import announcements
from gateway.accounts.scope import Scope, check_audience, targets_in_scope
from gateway.accounts.scope import outside as scope_outside
from gateway.audience import resolve
from gateway.errors import Conflict, NotFound
from gateway.funnel.bytarget import ScopedIndexes
from gateway.funnel.routing import TicketKind
from gateway.funnel.stats import figures, queue_stats
from gateway.funnel.ticket_model import OPEN_STATUSES, Status, Ticket
from gateway.funnel.tickets import TicketStore
from gateway.models import TicketId
from gateway.runtime import Runtime
from gateway.targets import Target, TargetDirectory

__all__ = [
    "announcement_detail",
    "check_announce",
    "check_announcement",
    "check_replay",
    "list_announcements",
    "list_targets",
    "list_tickets",
    "scoped_queue_stats",
    "ticket_in_scope",
]

URGENT_BELOW = 10**13  # index scores: urgent ones sort below this (see funnel/lua.py)
MAX_SCANNED = 5000  # recent announcements a scoped list looks through


def _directory(rt: Runtime) -> TargetDirectory:
    return TargetDirectory(rt.redis, rt.keys)


# --- tickets -------------------------------------------------------------------
async def list_tickets(
    rt: Runtime,
    scope: Scope | None,
    *,
    status: str | None = None,
    kind: str | None = None,
    limit: int = 50,
    cursor: str | None = None,
) -> tuple[list[Ticket], str | None]:
    allowed = await targets_in_scope(_directory(rt), scope)
    return await TicketStore(rt.redis, rt.keys).list(
        status=status, kind=kind, limit=limit, cursor=cursor, within=allowed
    )


async def ticket_in_scope(rt: Runtime, scope: Scope | None, tid: TicketId) -> Ticket:
    """The ticket, or ``NotFound`` when it does not exist or lies outside ``scope``."""
    if scope is None:
        return await TicketStore(rt.redis, rt.keys).get(tid)
    missing = NotFound(
        f"no ticket {tid} in your scope {scope.expr!r}",
        zh=f"你负责的范围（{scope.expr}）内没有工单 {tid}",
    )
    try:
        ticket = await TicketStore(rt.redis, rt.keys).get(tid)
    except NotFound:
        raise missing from None
    target = await _directory(rt).get(ticket.target)
    if target is None or not scope.permits(target):
        raise missing
    return ticket


async def scoped_queue_stats(rt: Runtime, scope: Scope | None) -> dict[str, Any]:
    """``queue_stats`` counted over the tickets of chats inside ``scope`` only.

    The global figures are counters; a scope has none, so Redis intersects the
    status, kind and age indexes with the scope's tickets (``ScopedIndexes``) and
    counts the categories of the open ones there, in slices (a Lua script).
    """
    if scope is None:
        return await queue_stats(rt)
    allowed = await targets_in_scope(_directory(rt), scope) or set()
    k = rt.keys
    kinds = [kind.value for kind in TicketKind]
    plan = [k("tickets", "idx", s.value) for s in Status]
    plan += [k("tickets", "idx", s.value, "kind", kind) for s in OPEN_STATUSES for kind in kinds]
    plan += [k("tickets", "age", s.value) for s in OPEN_STATUSES]
    async with ScopedIndexes(rt.redis, k, allowed) as scoped:
        narrowed = await scoped.narrow(*plan)
        res = await _open_figures(rt, narrowed)
        categories: dict[str, int] = {}
        for key, size in narrowed[: len(OPEN_STATUSES)]:
            for name, n in (await scoped.count_field(key, size, "category")).items():
                categories[name] = categories.get(name, 0) + n
    by_status = {s.value: n for s, (_, n) in zip(Status, narrowed, strict=False)}
    kind_counts: dict[str, int] = {}
    for i, kind in enumerate(kinds * len(OPEN_STATUSES)):
        kind_counts[kind] = kind_counts.get(kind, 0) + narrowed[len(Status) + i][1]
    urgent = sum(int(n) for n in res[:2])
    groups = {
        "kind": kind_counts,
        "priority": {"urgent": urgent, "normal": by_status["new"] + by_status["claimed"] - urgent},
        "category": categories,
    }
    groups = {name: {key: n for key, n in c.items() if n > 0} for name, c in groups.items()}
    oldest = {
        s.value: (float(rows[0][1]) if rows else None)
        for s, rows in zip(OPEN_STATUSES, res[2:4], strict=True)
    }
    return {**figures(by_status, groups, oldest, time.time()), "scope": scope.expr}


async def _open_figures(rt: Runtime, narrowed: list[tuple[str, int]]) -> list[Any]:
    """Urgent counts and the oldest entries of the narrowed open indexes."""
    opened = [key for key, _ in narrowed[: len(OPEN_STATUSES)]]
    ages = [key for key, _ in narrowed[-len(OPEN_STATUSES) :]]
    pipe = rt.redis.pipeline(transaction=False)
    for key in opened:
        pipe.zcount(key, "-inf", f"({URGENT_BELOW}")
    for key in ages:
        pipe.zrange(key, 0, 0, withscores=True)
    return list(await pipe.execute())


# --- targets -------------------------------------------------------------------
async def list_targets(rt: Runtime, scope: Scope | None, tag: str | None = None) -> list[Target]:
    targets = await _directory(rt).list(tag)
    return targets if scope is None else [t for t in targets if scope.permits(t)]


# --- announcements ---------------------------------------------------------------
async def check_announce(rt: Runtime, scope: Scope | None, to: str) -> None:
    """403 naming the chats when the audience ``to`` reaches outside ``scope``."""
    if scope is not None:
        directory = _directory(rt)
        await check_audience(directory, scope, await resolve(directory, to))


async def check_replay(rt: Runtime, scope: Scope | None, ann_id: str) -> None:
    """An ``Idempotency-Key`` answered with an earlier announcement: a scoped caller
    may only get one that lies wholly inside its scope (else 409, naming nothing)."""
    if scope is None:
        return
    outside = await scope_outside(_directory(rt), scope, await _targets_of(rt, ann_id))
    if outside:
        raise Conflict(
            "this Idempotency-Key was used for an announcement outside your scope",
            zh="这个幂等键（Idempotency-Key）已用于一条超出你负责范围的通知",
        )


async def _targets_of(rt: Runtime, ann_id: str) -> set[str]:
    key = rt.keys("announcement", ann_id, "targets")
    return {str(t) for t in await rt.redis.smembers(key)}


async def _visible(rt: Runtime, allowed: set[str] | None, ann_id: str) -> bool:
    return allowed is None or not allowed.isdisjoint(await _targets_of(rt, ann_id))


async def list_announcements(
    rt: Runtime, scope: Scope | None, limit: int = 50
) -> list[announcements.Announcement]:
    """Recent announcements that reached (or will reach) at least one chat in ``scope``."""
    if scope is None:
        return await announcements.list_recent(rt, limit)
    allowed = await targets_in_scope(_directory(rt), scope) or set()
    ids = [str(i) for i in await rt.redis.zrevrange(rt.keys("announcements"), 0, MAX_SCANNED - 1)]
    out = []
    for start in range(0, len(ids), 100):
        chunk = ids[start : start + 100]
        pipe = rt.redis.pipeline(transaction=False)
        for ann_id in chunk:
            pipe.smembers(rt.keys("announcement", ann_id, "targets"))
        for ann_id, targets in zip(chunk, await pipe.execute(), strict=True):
            if allowed.isdisjoint(targets):
                continue
            out.append(await announcements.get(rt, ann_id))
            if len(out) == limit:
                return out
    return out


async def announcement_detail(rt: Runtime, scope: Scope | None, raw_id: str) -> dict[str, Any]:
    """``announcements.detail``, with only the deliveries to chats inside ``scope``."""
    detail = await announcements.detail(rt, raw_id)
    if scope is None:
        return detail
    allowed = await targets_in_scope(_directory(rt), scope) or set()
    if not await _visible(rt, allowed, detail["id"]):
        raise _no_announcement(detail["id"], scope)
    deliveries = [d for d in detail["deliveries"] if d["target"] in allowed]
    return {**detail, **_counts(deliveries), "deliveries": deliveries, "scope": scope.expr}


def _no_announcement(ann_id: str, scope: Scope) -> NotFound:
    return NotFound(
        f"no announcement {ann_id} in your scope {scope.expr!r}",
        zh=f"你负责的范围（{scope.expr}）内没有通知 {ann_id}",
    )


def _counts(deliveries: Iterable[dict[str, Any]]) -> dict[str, Any]:
    totals: dict[str, int] = {}
    by_platform: dict[str, dict[str, int]] = {}
    for d in deliveries:
        totals[d["state"]] = totals.get(d["state"], 0) + 1
        per = by_platform.setdefault(d["platform"], {})
        per[d["state"]] = per.get(d["state"], 0) + 1
    return {"counts": totals, "by_platform": by_platform}


async def check_announcement(rt: Runtime, scope: Scope | None, raw_id: str) -> None:
    """Edit and recall act on every chat: allowed only when all of them are in scope."""
    if scope is None:
        return
    ann = await announcements.get(rt, raw_id)
    directory = _directory(rt)
    targets = await _targets_of(rt, ann.id)
    allowed = await targets_in_scope(directory, scope) or set()
    if allowed.isdisjoint(targets):
        raise _no_announcement(ann.id, scope)
    await check_audience(directory, scope, targets)
