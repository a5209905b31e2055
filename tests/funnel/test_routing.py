"""The routing table, as a pure function: message + state -> decision."""

from __future__ import annotations

import pytest

from gateway.funnel.routing import Action, Decision, RoutingState, TicketKind, TicketRef, route
from gateway.models import AnnouncementId, Command, InboundMessage, TicketId, UserId
from tests.funnel.factory import direct, message

A17 = AnnouncementId("A-17")
T5 = TicketId("T-5")
MINE = TicketRef(T5, UserId("501"), resolved=False)
THEIRS = TicketRef(T5, UserId("777"), resolved=False)
CLOSED = TicketRef(T5, UserId("501"), resolved=True)

NEW_REPORT = Decision(Action.NEW, TicketKind.REPORT)
NEW_MESSAGE = Decision(Action.NEW, TicketKind.MESSAGE)
NEW_REPLY = Decision(Action.NEW, TicketKind.REPLY, announcement=A17)
FOLLOW = Decision(Action.FOLLOW_UP, ticket=T5)
IGNORE = Decision(Action.IGNORE)
HELP = Decision(Action.HELP)

CASES: list[tuple[str, InboundMessage, RoutingState, Decision]] = [
    # direct chats: everything reaches the queue
    ("direct plain", direct("hello"), RoutingState(), NEW_MESSAGE),
    ("direct report", direct("x", command=Command.REPORT), RoutingState(), NEW_REPORT),
    ("direct ask", direct("x", command=Command.ASK), RoutingState(), NEW_MESSAGE),
    ("direct open ticket", direct("more"), RoutingState(open_direct_ticket=T5), FOLLOW),
    (
        "direct /report while open is a follow-up",
        direct("x", command=Command.REPORT),
        RoutingState(open_direct_ticket=T5),
        FOLLOW,
    ),
    (
        "direct reply to announcement",
        direct("q", reply_to="9"),
        RoutingState(reply_to_announcement=A17),
        NEW_REPLY,
    ),
    ("direct /start", direct("", command=Command.START), RoutingState(), HELP),
    ("direct /help", direct("", command=Command.HELP), RoutingState(open_direct_ticket=T5), HELP),
    # groups
    ("group chatter", message("nice weather"), RoutingState(), IGNORE),
    ("group /report", message("消防栓坏了", command=Command.REPORT), RoutingState(), NEW_REPORT),
    ("group /ask", message("when?", command=Command.ASK), RoutingState(), NEW_MESSAGE),
    ("group mention", message("@palm help", mentions_bot=True), RoutingState(), NEW_MESSAGE),
    (
        "group reply to announcement",
        message("which day?", reply_to="9"),
        RoutingState(reply_to_announcement=A17),
        NEW_REPLY,
    ),
    (
        "group reply to my ack",
        message("more", reply_to="9"),
        RoutingState(reply_to_ticket=MINE),
        FOLLOW,
    ),
    (
        "group reply to someone else's ticket",
        message("me too", reply_to="9"),
        RoutingState(reply_to_ticket=THEIRS),
        NEW_MESSAGE,
    ),
    (
        "group reply to a resolved ticket",
        message("again", reply_to="9"),
        RoutingState(reply_to_ticket=CLOSED),
        NEW_MESSAGE,
    ),
    ("group reply to a person", message("lol", reply_to="9"), RoutingState(), IGNORE),
    ("group /help", message("", command=Command.HELP), RoutingState(), HELP),
    ("group /start", message("", command=Command.START), RoutingState(), HELP),
    (
        "bot message",
        message("/report x", command=Command.REPORT, is_bot=True),
        RoutingState(),
        IGNORE,
    ),
    # edits
    (
        "edit of a stored message",
        message("fixed typo", edit_of="9"),
        RoutingState(edited_ticket=T5),
        Decision(Action.EDIT, ticket=T5),
    ),
    (
        "edit of chatter stays chatter",
        message("still chatter", edit_of="9"),
        RoutingState(),
        IGNORE,
    ),
    (
        "edit of chatter into a report",
        message("x", edit_of="9", command=Command.REPORT),
        RoutingState(),
        NEW_REPORT,
    ),
]


@pytest.mark.parametrize(
    ("msg", "state", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_route(msg: InboundMessage, state: RoutingState, expected: Decision) -> None:
    assert route(msg, state) == expected
