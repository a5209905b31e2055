"""The queue as one account sees it: its scope applied, urgent first, then oldest."""

from __future__ import annotations

from dataclasses import dataclass

from gateway.accounts import Scope, targets_in_scope
from gateway.accounts.views import list_tickets
from gateway.funnel import deadletters
from gateway.funnel.ticket_model import Status, Ticket
from gateway.runtime import Runtime
from gateway.targets import TargetDirectory

PAGE = 50
STATUSES = ("open", "new", "claimed", "resolved", "all")
KINDS = ("", "report", "reply", "message")


@dataclass(frozen=True, slots=True)
class QueuePage:
    tickets: list[Ticket]
    next_cursor: str | None


async def in_scope(rt: Runtime, scope: Scope | None) -> set[str] | None:
    return await targets_in_scope(TargetDirectory(rt.redis, rt.keys), scope)


async def page(
    rt: Runtime, scope: Scope | None, status: str, kind: str, cursor: str | None
) -> QueuePage:
    """One page. ``open`` merges new and claimed by the shared order (one page, no cursor)."""
    k = kind or None
    if status != "open":
        got = await list_tickets(
            rt, scope, status=None if status == "all" else status, kind=k, limit=PAGE,
            cursor=cursor,
        )  # fmt: skip
        return QueuePage(*got)
    new, _ = await list_tickets(rt, scope, status=Status.NEW, kind=k, limit=PAGE)
    claimed, _ = await list_tickets(rt, scope, status=Status.CLAIMED, kind=k, limit=PAGE)
    return QueuePage(sorted(new + claimed, key=sort_key)[:PAGE], None)


def sort_key(t: Ticket) -> tuple[int, float, str]:
    return (0 if t.priority == "urgent" else 1, t.received_at, t.id)


PARKED_SHOWN = 20


@dataclass(frozen=True, slots=True)
class ParkedRow:
    """A parked inbound entry as the queue page shows it (``gateway.funnel.deadletters``)."""

    at: float
    chat: str
    sender: str | None
    text: str


async def parked(rt: Runtime, scope: Scope | None) -> list[ParkedRow]:
    """The newest parked entries of chats inside ``scope``, with the chat's title when
    known. One that does not decode names no chat and no words: nothing a staff member
    can act on, so it is the operator's alone (``palm queue dead-letters``)."""
    items = await deadletters.parked(rt.redis, rt.keys, limit=PARKED_SHOWN)
    if not items:
        return []
    chats = [p.target for p in items if p.target is not None]
    known = {t.id: t for t in await TargetDirectory(rt.redis, rt.keys).many(chats)}
    rows = []
    for p in items:
        if p.target is None or p.text is None:
            continue
        target = known.get(p.target)
        if scope is not None and (target is None or not scope.permits(target)):
            continue
        chat = (target.title if target is not None else None) or p.target
        rows.append(ParkedRow(p.at, chat, p.sender, p.text))
    return rows
