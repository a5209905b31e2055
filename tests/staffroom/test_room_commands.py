"""Follow-ups under the card, /queue and /announce + /confirm in a Telegram staff group,
through `palm run` on the fake Bot API."""

from __future__ import annotations

from tests.e2e.conftest import PalmFactory, eventually
from tests.fakes.telegram_api import FakeTelegram, SentMessage
from tests.fakes.tg_inline import buttons_of

STAFF = -1008880001
BUILDING = -1009990001


def _in_staff(fake: FakeTelegram, start: str) -> list[SentMessage]:
    return [m for m in fake.sent_to(STAFF) if (m.text or "").startswith(start)]


async def test_follow_ups_queue_and_announce_from_a_staff_group(
    fake_tg: FakeTelegram, make_palm: PalmFactory
) -> None:
    palm = make_palm(
        telegram=fake_tg, locale="en",
        staff_rooms=[{"target": f"telegram:{STAFF}", "scope": "*"}],
        targets=[
            {"id": f"telegram:{BUILDING}", "tags": ["building:9"], "title": "Tower 9"},
            # Tagged like the building, yet never an audience: it is a staff room.
            {"id": f"telegram:{STAFF}", "tags": ["building:9"]},
        ],
    )  # fmt: skip
    palm.start()
    await palm.ready()
    # A report from the building's group (in the room's scope "*": every group).
    resident = fake_tg.user(4242)
    fake_tg.group_message(BUILDING, "/report loud drilling at night", sender=resident)
    await eventually(lambda: len(fake_tg.sent_to(BUILDING)) == 1, what="the acknowledgement")
    (ack,) = fake_tg.sent_to(BUILDING)
    await eventually(lambda: len(_in_staff(fake_tg, "T-1 ")) == 1, what="the card")
    (card,) = _in_staff(fake_tg, "T-1 ")
    # A direct chat is outside "*" (groups only): no card for it.
    fake_tg.private_message(777001, "my bike was stolen", sender=fake_tg.user(777001))

    # The resident's follow-up (a reply to the acknowledgement) appears under the card.
    fake_tg.group_message(BUILDING, "it started again", sender=resident, reply_to=ack.message_id)
    follow = "T-1 · Resident4242 wrote:\nit started again"
    await eventually(lambda: len(_in_staff(fake_tg, follow)) == 1, what="the follow-up")
    (posted,) = _in_staff(fake_tg, follow)
    assert posted.reply_to == card.message_id

    staff = fake_tg.user(5001)
    staff["first_name"] = "Wang"
    fake_tg.group_message(STAFF, "/queue", sender=staff)
    await eventually(lambda: len(_in_staff(fake_tg, "The ")) == 1, what="the /queue answer")
    (queue,) = _in_staff(fake_tg, "The ")
    assert queue.text is not None
    lines = queue.text.splitlines()
    assert lines[0] == "The 1 oldest open tickets:"
    assert lines[1].startswith("T-1 · ")
    assert "loud drilling" in lines[1]

    # A reply to the follow-up counts as a reply to the card: an answer for T-1.
    fake_tg.group_message(STAFF, "We asked them to stop", sender=staff, reply_to=posted.message_id)
    await eventually(
        lambda: any(m.text == "We asked them to stop" for m in fake_tg.sent_to(BUILDING)),
        what="the answer in the building's group",
    )

    fake_tg.group_message(STAFF, "/announce building:9 | Quiet hours start at 22:00", sender=staff)
    await eventually(lambda: len(_in_staff(fake_tg, "Preview")) == 1, what="the preview")
    (preview,) = _in_staff(fake_tg, "Preview")
    assert preview.text is not None
    assert preview.text.startswith("Preview: to building:9 (telegram 1)\ntelegram: Tower 9\n")
    assert buttons_of(preview.reply_markup) == [("Send", "confirm")]
    assert not (await palm.cli_json("announcements", "list"))

    confirmer = fake_tg.user(5002)
    confirmer["first_name"] = "Zhao"
    fake_tg.group_message(STAFF, "/confirm", sender=confirmer, reply_to=preview.message_id)
    await eventually(
        lambda: any(m.text == "Quiet hours start at 22:00" for m in fake_tg.sent_to(BUILDING)),
        what="the announcement in the building's group",
    )
    (ann,) = await palm.cli_json("announcements", "list")
    assert ann["created_by"] == "Zhao"
    assert ann["targets"] == 1
    await eventually(lambda: len(_in_staff(fake_tg, f"{ann['id']}: sending")) == 1, what="ok")
    # The button confirms the same draft again: the same announcement, nothing new.
    fake_tg.members.set(STAFF, 5001)
    query = fake_tg.press(STAFF, preview.message_id, "confirm", staff)
    await eventually(lambda: query in fake_tg.callbacks.answers, what="the button's answer")
    assert str(fake_tg.callbacks.answers[query]).startswith(f"{ann['id']}: sending")
    assert len(await palm.cli_json("announcements", "list")) == 1
    # "*" never reaches the staff group either.
    done = await palm.cli("announce", "Lift maintenance Monday", "--to", "*", "--no-wait")
    assert done.returncode == 0, done.stderr
    await eventually(
        lambda: any(m.text == "Lift maintenance Monday" for m in fake_tg.sent_to(BUILDING)),
        what="the * announcement",
    )
    assert not _in_staff(fake_tg, "Lift maintenance")
    # Nothing said in the staff group opened a ticket.
    tickets = (await palm.cli_json("tickets", "list"))["tickets"]
    assert sorted(t["target"] for t in tickets) == [f"telegram:{BUILDING}", "telegram:777001"]


async def test_cards_catch_up_when_the_staff_room_returns(
    fake_tg: FakeTelegram, make_palm: PalmFactory
) -> None:
    palm = make_palm(telegram=fake_tg, locale="en", staff_rooms=[{"target": f"telegram:{STAFF}"}])
    palm.start()
    await palm.ready()
    # The staff group cannot be reached: every request for it is cut off.
    outage = fake_tg.fail("reset_before", chat_id=STAFF)
    for chat in (820001, 820002, 820003):
        fake_tg.private_message(chat, f"broken window in flat {chat}", sender=fake_tg.user(chat))

    async def three_tickets() -> bool:
        return len((await palm.cli_json("tickets", "list"))["tickets"]) == 3

    await eventually(three_tickets, what="the tickets, queued while the room is away")
    assert (await palm.cli("tickets", "claim", "T-1", "--as", "Zhou")).returncode == 0
    await eventually(lambda: len(fake_tg.sent_to(820003)) == 1, what="residents acknowledged")
    assert not fake_tg.sent_to(STAFF)
    outage.times = 0  # the room is back

    def caught_up() -> bool:
        cards = fake_tg.sent_to(STAFF)
        first = [m for m in cards if (m.text or "").startswith("T-1 ")]
        return len(cards) == 3 and bool(first) and "being handled by Zhou" in (first[0].text or "")

    await eventually(caught_up, limit=60, what="the cards and the claim's edit")
    cards = sorted(fake_tg.sent_to(STAFF), key=lambda m: m.text or "")
    assert [(m.text or "")[:4] for m in cards] == ["T-1 ", "T-2 ", "T-3 "]
    assert cards[0].edits == 1  # the edit waited for its card, then went once
