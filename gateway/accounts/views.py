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
from gateway.audience import resolve
from gateway.errors import NotFound
from gateway.funnel.stats import figures, queue_stats
from gateway.funnel.tickets import OPEN_STATUSES, Status, Ticket, TicketStore
from gateway.models import TicketId
from gateway.runtime import Runtime
from gateway.targets import Target, TargetDirectory

__all__ = [
    "announcement_detail",
    "check_announce",
    "check_announcement",
    "list_announcements",
    "list_targets",
    "list_tickets",
    "scoped_queue_stats",
    "ticket_in_scope",
]

CHUNK = 1000
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
    keep = None if allowed is None else (lambda t: t.target in allowed)
    return await TicketStore(rt.redis, rt.keys).list(
        status=status, kind=kind, limit=limit, cursor=cursor, keep=keep
    )


async def ticket_in_scope(rt: Runtime, scope: Scope | None, tid: TicketId) -> Ticket:
    """The ticket, or ``NotFound`` when it does not exist or lies outside ``scope``."""
    if scope is None:
        return await TicketStore(rt.redis, rt.keys).get(tid)
    missing = NotFound(f"no ticket {tid} in your scope {scope.expr!r}")
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

    The global figures are counters; a scope has none, so its figures are read from
    the open-ticket indexes (and the resolved index for its count).
    """
    if scope is None:
        return await queue_stats(rt)
    allowed = await targets_in_scope(_directory(rt), scope) or set()
    fields = ("target", "kind", "category", "priority")
    by_status: dict[str, int] = {}
    groups: dict[str, dict[str, int]] = {"kind": {}, "category": {}, "priority": {}}
    oldest: dict[str, float | None] = {}
    for status in Status:
        key = rt.keys("tickets", "idx", status.value)
        n, first = 0, None
        async for rows in _index_rows(rt, key, fields):
            for received, (target, kind, category, priority) in rows:
                if target not in allowed:
                    continue
                n += 1
                if status in OPEN_STATUSES:
                    first = received if first is None else min(first, received)
                    for group, name in zip(groups, (kind, category, priority), strict=True):
                        groups[group][name] = groups[group].get(name, 0) + 1
        by_status[status.value] = n
        oldest[status.value] = first
    return {**figures(by_status, groups, oldest, time.time()), "scope": scope.expr}


async def _index_rows(rt: Runtime, key: str, fields: tuple[str, ...]) -> Any:
    """Chunks of (received_at, fields) for every ticket in an index."""
    start = 0
    while True:
        members = [str(m) for m in await rt.redis.zrange(key, start, start + CHUNK - 1)]
        if not members:
            return
        pipe = rt.redis.pipeline(transaction=False)
        for m in members:
            pipe.hmget(rt.keys("ticket", m), ["received_at", *fields])
        rows = []
        for values in await pipe.execute():
            if values[0] is not None:
                rows.append((float(values[0]), tuple(str(v or "") for v in values[1:])))
        yield rows
        start += CHUNK


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
        raise NotFound(f"no announcement {detail['id']} in your scope {scope.expr!r}")
    deliveries = [d for d in detail["deliveries"] if d["target"] in allowed]
    return {**detail, **_counts(deliveries), "deliveries": deliveries, "scope": scope.expr}


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
        raise NotFound(f"no announcement {ann.id} in your scope {scope.expr!r}")
    await check_audience(directory, scope, targets)
