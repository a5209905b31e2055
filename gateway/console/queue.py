"""The queue as one account sees it: its scope applied, urgent first, then oldest."""

from __future__ import annotations

from dataclasses import dataclass

from gateway.accounts import Scope, targets_in_scope
from gateway.funnel.tickets import Status, Ticket, TicketStore
from gateway.runtime import Runtime
from gateway.targets import TargetDirectory

PAGE = 50
STATUSES = ("open", "new", "claimed", "resolved", "all")
KINDS = ("", "report", "reply", "message")
MAX_SCAN_PAGES = 40
"""A scoped account's page is filled from the shared index; stop after this many reads."""


@dataclass(frozen=True, slots=True)
class QueuePage:
    tickets: list[Ticket]
    next_cursor: str | None


async def in_scope(rt: Runtime, scope: Scope | None) -> set[str] | None:
    return await targets_in_scope(TargetDirectory(rt.redis, rt.keys), scope)


async def _one_status(
    store: TicketStore, status: str | None, kind: str | None, cursor: str | None,
    allowed: set[str] | None,
) -> QueuePage:  # fmt: skip
    out: list[Ticket] = []
    for _ in range(MAX_SCAN_PAGES):
        tickets, cursor = await store.list(status=status, kind=kind, limit=PAGE, cursor=cursor)
        out += [t for t in tickets if allowed is None or t.target in allowed]
        if len(out) >= PAGE or cursor is None:
            break
    return QueuePage(out[:PAGE], cursor)


async def page(
    rt: Runtime, scope: Scope | None, status: str, kind: str, cursor: str | None
) -> QueuePage:
    """One page. ``open`` merges new and claimed by the shared score (one page, no cursor)."""
    store = TicketStore(rt.redis, rt.keys)
    allowed = await in_scope(rt, scope)
    k = kind or None
    if status != "open":
        return await _one_status(store, None if status == "all" else status, k, cursor, allowed)
    new = await _one_status(store, Status.NEW, k, None, allowed)
    claimed = await _one_status(store, Status.CLAIMED, k, None, allowed)
    merged = sorted(new.tickets + claimed.tickets, key=sort_key)
    return QueuePage(merged[:PAGE], None)


def sort_key(t: Ticket) -> tuple[int, float, str]:
    return (0 if t.priority == "urgent" else 1, t.received_at, t.id)


async def visible(rt: Runtime, scope: Scope | None, target: str) -> bool:
    allowed = await in_scope(rt, scope)
    return allowed is None or target in allowed
