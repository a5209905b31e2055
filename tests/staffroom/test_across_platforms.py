"""Issue 12's "done when", through `palm run`: a resident on one platform, staff on the
other, cards edited in place, group status, a stranger's button refused."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from tests.e2e.conftest import PalmFactory, eventually
from tests.fakes.synapse import Synapse, User
from tests.fakes.telegram_api import FakeTelegram
from tests.fakes.tg_inline import buttons_of
from tests.staffroom.conftest import matrix_config, matrix_staff_room, thread, upload_image


async def _bot_events(user: User, room: str, bot: str) -> list[dict[str, Any]]:
    return [e for e in await user.messages(room) if e["sender"] == bot]


def _body(e: dict[str, Any]) -> str:
    return str(e["content"].get("body", ""))


@pytest.mark.synapse
async def test_telegram_resident_matrix_staff_room(
    fake_tg: FakeTelegram, make_palm: PalmFactory, synapse: Synapse,
    new_user: Callable[..., Any],
) -> None:  # fmt: skip
    setup = await matrix_staff_room(make_palm, fake_tg, synapse, new_user)
    palm, bot, staff, room = setup.palm, setup.bot, setup.staff, setup.room
    chat = 515151
    resident = fake_tg.user(chat, language="zh")
    first = fake_tg.private_message(chat, "5号楼电梯困人了", sender=resident)
    first_id = first["message"]["message_id"]

    async def card() -> dict[str, Any] | None:
        found = [e for e in await _bot_events(staff, room, bot.user_id) if "电梯困人" in _body(e)]
        return found[0] if found else None

    await eventually(card, limit=30, what="the card in the Matrix staff room")
    ev = await card()
    assert ev is not None
    (ticket,) = (await palm.cli_json("tickets", "list"))["tickets"]
    tid = ticket["id"]
    assert _body(ev).startswith(f"{tid} · 紧急 · 电梯")  # the room speaks zh (locale)
    assert "Resident515151" in _body(ev)

    # The resident's photo follows: posted in the card's thread, the image itself too.
    fake_tg.photo(chat, caption="这是现场照片")

    async def photo_in_thread() -> dict[str, Any] | None:
        for e in await _bot_events(staff, room, bot.user_id):
            rel = e["content"].get("m.relates_to", {})
            if e["content"].get("msgtype") == "m.image" and rel.get("event_id") == ev["event_id"]:
                return e
        return None

    await eventually(photo_in_thread, limit=30, what="the photo in the card's thread")
    image = await photo_in_thread()
    assert image is not None
    assert image["content"]["m.relates_to"]["rel_type"] == "m.thread"
    assert image["content"]["info"]["size"] == 12800  # the largest size, fetched whole
    texts = [_body(e) for e in await _bot_events(staff, room, bot.user_id)]
    assert f"{tid} · Resident515151 补充：\n这是现场照片\n📎 1 个附件" in texts

    # A staff answer in the card's thread reaches the resident as a reply to their message.
    await staff.send(room, "救援队五分钟内到", extra=thread(ev["event_id"]))

    def answered() -> bool:
        return any(m.text == "救援队五分钟内到" for m in fake_tg.sent_to(chat))

    await eventually(answered, limit=30, what="the answer on Telegram")
    (answer,) = [m for m in fake_tg.sent_to(chat) if m.text == "救援队五分钟内到"]
    assert answer.reply_to == first_id

    await staff.send(room, "!resolve rescued", extra=thread(ev["event_id"]))

    async def card_resolved() -> bool:
        for e in await _bot_events(staff, room, bot.user_id):
            rel = e["content"].get("m.relates_to", {})
            new = e["content"].get("m.new_content", {})
            edits_card = (
                rel.get("rel_type") == "m.replace" and rel.get("event_id") == ev["event_id"]
            )
            if edits_card and "已解决" in new.get("body", ""):
                return True
        return False

    await eventually(card_resolved, limit=30, what="the card edited to resolved (m.replace)")
    shown = await palm.cli_json("tickets", "show", tid)
    assert shown["status"] == "resolved"
    assert shown["note"] == "rescued"
    actors = {h["actor"] for h in shown["history"] if h["action"] in ("replied", "resolved")}
    assert actors == {staff.user_id.partition(":")[0][1:]}  # the member's display name
    await eventually(
        lambda: any(m.text == "已解决：rescued" for m in fake_tg.sent_to(chat)),
        what="the resolution on Telegram",
    )
    # The staff room never became a ticket, and exactly one card was posted.
    assert len((await palm.cli_json("tickets", "list"))["tickets"]) == 1
    cards = [e for e in await _bot_events(staff, room, bot.user_id) if "电梯困人" in _body(e)
             and "m.new_content" not in e["content"]]  # fmt: skip
    assert len(cards) == 1


@pytest.mark.synapse
async def test_matrix_resident_telegram_staff_group(
    fake_tg: FakeTelegram, make_palm: PalmFactory, synapse: Synapse,
    new_user: Callable[..., Any],
) -> None:  # fmt: skip
    bot: User = await new_user("palmbot")
    resident: User = await new_user("resident")
    dm = await resident.create_room(invite=[bot.user_id], is_direct=True)
    group = -1007770001
    palm = make_palm(
        telegram=fake_tg, matrix=matrix_config(synapse, bot),
        staff_rooms=[{"target": f"telegram:{group}"}],
        locale="en",
    )  # fmt: skip
    palm.env["PALM_TEST_MATRIX_PASSWORD"] = bot.password
    palm.start()
    await palm.ready()

    async def joined() -> bool:
        return (await resident.members(dm)).get(bot.user_id) == "join"

    await eventually(joined, limit=30, what="the bot to join the direct room")
    first = await resident.send(dm, "The water pipe in my kitchen is leaking")

    await eventually(lambda: len(fake_tg.sent_to(group)) >= 1, limit=30, what="the card")
    (card,) = fake_tg.sent_to(group)
    (ticket,) = (await palm.cli_json("tickets", "list"))["tickets"]
    tid = ticket["id"]
    assert card.text is not None
    assert card.text.startswith(f"{tid} · urgent · water")  # "leaking" is urgent
    assert buttons_of(card.reply_markup) == [("Claim", "claim"), ("Resolve", "resolve")]

    staff = fake_tg.user(9001)
    staff["first_name"], staff["last_name"] = "Li", "Wei"
    fake_tg.members.set(group, 9001, "administrator")
    stranger = fake_tg.user(9002)

    # A stranger's button press is refused, and changes nothing.
    refused = fake_tg.press(group, card.message_id, "resolve", stranger)
    await eventually(lambda: refused in fake_tg.callbacks.answers, what="the refusal")
    assert "Only members" in str(fake_tg.callbacks.answers[refused])

    query = fake_tg.press(group, card.message_id, "claim", staff)
    await eventually(lambda: query in fake_tg.callbacks.answers, what="the claim's answer")
    assert fake_tg.callbacks.answers[query] == f"{tid}: claimed by Li Wei"
    await eventually(lambda: "being handled by Li Wei" in (card.text or ""), what="card edit")
    assert buttons_of(card.reply_markup) == [("Resolve", "resolve")]
    again = fake_tg.press(group, card.message_id, "claim", fake_tg.user(9003))
    fake_tg.members.set(group, 9003)
    await eventually(lambda: again in fake_tg.callbacks.answers, what="the second claim")
    assert fake_tg.callbacks.answers[again] == f"{tid}: already claimed by Li Wei"

    # The resident's photo (a follow-up in the direct room) follows the card on Telegram.
    photo = b"\xff\xd8 kitchen pipe " * 400
    mxc = await upload_image(resident, photo)
    info = {"mimetype": "image/jpeg", "size": len(photo)}
    await resident.send(dm, "leak.jpg", msgtype="m.image", extra={"url": mxc, "info": info})

    def photo_forwarded() -> bool:
        return any(m.method == "sendPhoto" for m in fake_tg.sent_to(group))

    await eventually(photo_forwarded, limit=30, what="the resident's photo under the card")
    (forwarded,) = [m for m in fake_tg.sent_to(group) if m.method == "sendPhoto"]
    assert forwarded.reply_to == card.message_id
    assert forwarded.file_size == len(photo)
    assert forwarded.caption == f"{tid} · 📎 1/1"

    fake_tg.group_message(group, "A plumber comes at 3 pm", sender=staff, reply_to=card.message_id)

    async def answered() -> dict[str, Any] | None:
        for e in await resident.messages(dm):
            if e["sender"] == bot.user_id and _body(e) == "A plumber comes at 3 pm":
                return e
        return None

    await eventually(answered, limit=30, what="the answer in the Matrix direct room")
    got = await answered()
    assert got is not None
    assert got["content"]["m.relates_to"]["m.in_reply_to"]["event_id"] == first

    fake_tg.group_message(group, "/resolve pipe replaced", sender=staff, reply_to=card.message_id)
    await eventually(lambda: "resolved by Li Wei" in (card.text or ""), what="card resolved")
    assert card.reply_markup is None or buttons_of(card.reply_markup) == []
    assert "answered by Li Wei" in (card.text or "")
    shown = await palm.cli_json("tickets", "show", tid)
    assert (shown["status"], shown["assignee"], shown["note"]) == (
        "resolved", "Li Wei", "pipe replaced",
    )  # fmt: skip
    assert not [q for q, a in fake_tg.callbacks.answers.items() if a is None]
    # Nothing the staff group said became a ticket.
    assert len((await palm.cli_json("tickets", "list"))["tickets"]) == 1


async def test_group_acknowledgement_edited_in_place(
    fake_tg: FakeTelegram, make_palm: PalmFactory
) -> None:
    palm = make_palm(telegram=fake_tg, locale="en")
    palm.start()
    await palm.ready()
    group = -1005550001
    fake_tg.group_message(group, "/report the fire hydrant by building 5 is broken")
    await eventually(lambda: len(fake_tg.sent_to(group)) == 1, what="the acknowledgement")
    (ack,) = fake_tg.sent_to(group)
    (ticket,) = (await palm.cli_json("tickets", "list"))["tickets"]
    tid = ticket["id"]
    assert (await palm.cli("tickets", "claim", tid, "--as", "Zhang")).returncode == 0
    await eventually(lambda: ack.edits == 1, what="the first status edit")
    assert (
        ack.text
        == f"Received: ticket {tid}. Staff will reply soon.\nStatus: being handled by Zhang"
    )
    # Taken over by someone else: the group sees the new name (an edit of its own).
    took = await palm.cli("tickets", "claim", tid, "--as", "Li", "--force")
    assert took.returncode == 0, took.stderr
    await eventually(lambda: ack.edits == 2, what="the takeover's status edit")
    assert ack.text is not None
    assert ack.text.endswith("Status: being handled by Li")
    assert (await palm.cli("tickets", "resolve", tid, "--note", "valve")).returncode == 0
    await eventually(lambda: ack.edits == 3, what="the resolution's status edit")
    assert ack.text is not None
    assert ack.text.endswith("Status: resolved after 1 min")
    # One edit per change, and the resolution is still posted as a reply.
    assert len(ack.text_history) == 4
    # The edit and the resolution are separate outbox items: wait for the second too.
    await eventually(lambda: len(fake_tg.sent_to(group)) >= 2, what="the resolution reply")
    assert [m.text for m in fake_tg.sent_to(group)][1:] == ["resolved: valve"]
