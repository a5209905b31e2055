"""The queue as one account sees it: its scope applied, urgent first, then oldest."""

from __future__ import annotations

from dataclasses import dataclass

from gateway.accounts import Scope, targets_in_scope
from gateway.accounts.views import list_tickets
from gateway.funnel import deadletters, parked_actions
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

    entry: str
    at: float
    chat: str
    sender: str | None
    text: str
    answered: bool


@dataclass(frozen=True, slots=True)
class ParkedList:
    """The newest ``PARKED_SHOWN`` rows, and how many there are in all (the number a
    staff room's ``/queue`` gives), so the page can say when it shows only some."""

    rows: list[ParkedRow]
    total: int


async def parked(rt: Runtime, scope: Scope | None) -> ParkedList:
    """The parked residents' messages of chats inside ``scope``, with the chat's title
    when known (``deadletters.for_staff``)."""
    items = await deadletters.for_staff(rt.redis, rt.keys, scope)
    rows = [
        ParkedRow(i.parked.entry, i.parked.at,
                  (i.chat.title if i.chat else None) or str(i.parked.target),
                  i.parked.sender, i.text, i.parked.answered)
        for i in items[:PARKED_SHOWN]
    ]  # fmt: skip
    return ParkedList(rows, len(items))


async def act_on_parked(
    rt: Runtime, scope: Scope | None, entry: str, action: parked_actions.Action, by: str
) -> None:
    """A staff member's ``retry`` or ``handled`` on a parked message in their scope."""
    items = [i.parked for i in await deadletters.for_staff(rt.redis, rt.keys, scope)]
    await parked_actions.act(rt, parked_actions.pick(items, entry), action, by=by)
