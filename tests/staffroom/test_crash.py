"""Exactly once through `kill -9`: 50 cards while palm is killed mid-carding, and 50
staff answers written while palm is down."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable
from typing import Any

import pytest

from tests.e2e.conftest import PalmFactory, eventually
from tests.fakes.synapse import Synapse, User
from tests.fakes.telegram_api import FakeTelegram
from tests.staffroom.conftest import matrix_staff_room, thread

N = 50
CARD = re.compile(r"^(T-\d+) · ")


async def _cards(staff: User, room: str, bot: str) -> dict[str, list[str]]:
    """Ticket id -> the event ids of its cards (not edits, not follow-ups)."""
    out: dict[str, list[str]] = {}
    for e in await staff.messages(room):
        content = e["content"]
        m = CARD.match(str(content.get("body", "")))
        plain = "m.new_content" not in content and "m.relates_to" not in content
        if e["sender"] == bot and m and plain:
            out.setdefault(m.group(1), []).append(e["event_id"])
    return out


@pytest.mark.slow
@pytest.mark.synapse
async def test_kill_9_while_carding_and_answers_while_down(
    fake_tg: FakeTelegram, make_palm: PalmFactory, synapse: Synapse,
    new_user: Callable[..., Any],
) -> None:  # fmt: skip
    setup = await matrix_staff_room(make_palm, fake_tg, synapse, new_user, locale="en")
    palm, bot, staff, room = setup.palm, setup.bot, setup.staff, setup.room
    chats = [710_000 + i for i in range(N)]
    firsts = {}
    for chat in chats:
        sent = fake_tg.private_message(chat, f"leak number {chat}", sender=fake_tg.user(chat))
        firsts[chat] = sent["message"]["message_id"]

    async def some_cards() -> bool:
        return len(await _cards(staff, room, bot.user_id)) >= 5

    await eventually(some_cards, limit=60, what="the first cards")
    palm.kill9()
    before = len(await _cards(staff, room, bot.user_id))
    print(f"killed with {before} of {N} cards posted")
    palm.start()
    await palm.ready()

    async def all_cards() -> bool:
        return len(await _cards(staff, room, bot.user_id)) == N

    await eventually(all_cards, limit=120, what=f"{N} cards (killed at {before})")
    cards = await _cards(staff, room, bot.user_id)
    assert sorted(len(v) for v in cards.values()) == [1] * N, "a card was posted twice"

    # Staff answer every card while palm is down.
    palm.kill9()
    for tid, (event_id,) in cards.items():
        await staff.send(room, f"answer for {tid}", extra=thread(event_id))
    palm.start()
    await palm.ready()
    tickets = {
        t["id"]: t for t in (await palm.cli_json("tickets", "list", "--limit", "100"))["tickets"]
    }
    by_chat = {int(t["target"].split(":")[1]): tid for tid, t in tickets.items()}
    assert len(by_chat) == N

    def answers() -> Counter[int]:
        return Counter(
            m.chat_id for m in fake_tg.messages if (m.text or "").startswith("answer for ")
        )

    await eventually(lambda: len(answers()) == N, limit=120, what=f"{N} answers")
    assert set(answers().values()) == {1}
    for chat, tid in by_chat.items():
        (got,) = [m for m in fake_tg.sent_to(chat) if (m.text or "").startswith("answer for ")]
        assert got.text == f"answer for {tid}"
        assert got.reply_to == firsts[chat]
    for tid in list(tickets)[:5]:
        shown = await palm.cli_json("tickets", "show", tid)
        assert [h["action"] for h in shown["history"]].count("replied") == 1
