"""The funnel end to end over the real adapters: Telegram direct messages and a Matrix
room, through `palm run`, to tickets and back to the resident's own app."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from tests.e2e.conftest import PalmFactory, eventually
from tests.fakes.synapse import Synapse, User
from tests.fakes.telegram_api import FakeTelegram
from tests.matrix.conftest import admin, new_user, synapse

__all__ = ["admin", "new_user", "synapse"]


async def test_three_quick_direct_messages_make_one_ticket(
    fake_tg: FakeTelegram, make_palm: PalmFactory
) -> None:
    palm = make_palm(telegram=fake_tg)
    palm.start()
    await palm.ready()
    chat = 424242
    resident = fake_tg.user(chat, language="en")
    first = fake_tg.private_message(chat, "The elevator in building 3 is stuck", sender=resident)
    fake_tg.private_message(chat, "someone is inside!", sender=resident)
    fake_tg.private_message(chat, "third floor", sender=resident)
    first_id = first["message"]["message_id"]

    async def one_ticket_with_three() -> bool:
        listed = (await palm.cli_json("tickets", "list"))["tickets"]
        if len(listed) != 1:
            return False
        shown = await palm.cli_json("tickets", "show", listed[0]["id"])
        inbound = [m for m in shown["conversation"] if m.get("direction", "in") == "in"]
        return len(inbound) == 3

    await eventually(one_ticket_with_three, what="one ticket holding three messages")
    (ticket,) = (await palm.cli_json("tickets", "list"))["tickets"]
    shown = await palm.cli_json("tickets", "show", ticket["id"])
    texts = [m["text"] for m in shown["conversation"] if m.get("direction", "in") == "in"]
    assert texts == ["The elevator in building 3 is stuck", "someone is inside!", "third floor"]
    assert ticket["category"] == "elevator"
    # One acknowledgement, in English, threaded to the first message; none for follow-ups.
    await eventually(lambda: len(fake_tg.sent_to(chat)) >= 1, what="the acknowledgement")
    acks = fake_tg.sent_to(chat)
    assert len(acks) == 1
    assert acks[0].reply_to == first_id
    assert acks[0].text == f"Received: ticket {ticket['id']}. Staff will reply soon."


@pytest.mark.synapse
async def test_matrix_reply_to_an_announcement_and_a_direct_chat(
    make_palm: PalmFactory, synapse: Synapse, new_user: Callable[..., Any]
) -> None:
    bot: User = await new_user("palmbot")
    resident: User = await new_user("resident")
    room = await resident.create_room(invite=[bot.user_id], name="Building 7")
    dm = await resident.create_room(invite=[bot.user_id], is_direct=True)
    matrix = {
        "homeserver": synapse.url, "user_id": bot.user_id,
        "password_env": "PALM_TEST_MATRIX_PASSWORD", "auto_join": "any", "sync_timeout_ms": 1000,
    }  # fmt: skip
    palm = make_palm(matrix=matrix, targets=[{"id": f"matrix:{room}", "tags": ["building:7"]}])
    palm.env["PALM_TEST_MATRIX_PASSWORD"] = bot.password
    palm.start()
    await palm.ready()

    async def joined() -> bool:
        members = [await resident.members(r) for r in (room, dm)]
        return all(m.get(bot.user_id) == "join" for m in members)

    await eventually(joined, limit=30, what="the bot to join both rooms")
    sent = await palm.cli("announce", "Water off in building 7, 9:00-12:00", "--to", "building:7")
    assert sent.returncode == 0, sent.stderr + palm.tail()
    ann_id = sent.stdout.split()[0]
    notice = next(
        e for e in await resident.messages(room)
        if e["sender"] == bot.user_id and "Water off" in e["content"].get("body", "")
    )  # fmt: skip

    await resident.send(room, "Will the water be back by lunch?", reply_to=notice["event_id"])
    await resident.send(dm, "My mailbox lock is broken")

    async def two_tickets() -> bool:
        return len((await palm.cli_json("tickets", "list"))["tickets"]) == 2

    await eventually(two_tickets, limit=30, what="two tickets")
    tickets = {t["kind"]: t for t in (await palm.cli_json("tickets", "list"))["tickets"]}
    assert set(tickets) == {"reply", "message"}
    reply = await palm.cli_json("tickets", "show", tickets["reply"]["id"])
    assert reply["announcement"] == ann_id
    shown = await palm.cli_json("announcements", "show", ann_id)
    assert shown["replies"] == 1

    # A staff answer goes back into the resident's direct room as a reply to them.
    dm_ticket = tickets["message"]["id"]
    done = await palm.cli("tickets", "reply", dm_ticket, "A locksmith comes at 3 pm.")
    assert done.returncode == 0, done.stderr

    async def answered() -> dict[str, Any] | None:
        for e in await resident.messages(dm):
            if e["sender"] == bot.user_id and "locksmith" in e["content"].get("body", ""):
                return e
        return None

    await eventually(answered, limit=30, what="the staff answer in the direct room")
    event = await answered()
    assert event is not None
    mine = [e for e in await resident.messages(dm) if e["sender"] == resident.user_id]
    first = next(e for e in mine if e["content"].get("body") == "My mailbox lock is broken")
    in_reply_to = event["content"]["m.relates_to"]["m.in_reply_to"]["event_id"]
    assert in_reply_to == first["event_id"]
