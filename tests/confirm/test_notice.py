"""Issue 13's "done when", through `palm run` on the fake Bot API and the real Synapse."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from tests.confirm.conftest import GROUP, building, react, reactions
from tests.e2e.conftest import PalmFactory, eventually
from tests.fakes.synapse import Synapse
from tests.fakes.telegram_api import FakeTelegram
from tests.fakes.tg_inline import buttons_of


@pytest.mark.synapse
async def test_confirm_across_platforms_rollup_and_households(
    fake_tg: FakeTelegram, make_palm: PalmFactory, synapse: Synapse,
    new_user: Callable[..., Any],
) -> None:  # fmt: skip
    b = await building(make_palm, fake_tg, synapse, new_user)
    palm, bot, room = b.palm, b.bot, b.room
    alice, bob, carol = b.residents
    fake_tg.members.counts[GROUP] = 121  # the bot and 120 residents
    done = await palm.cli("announce", "Gas shut-off tomorrow 9:00-11:00", "--to", "building:5",
                          "--confirm", "--no-wait")  # fmt: skip
    assert done.returncode == 0, done.stderr
    ann = done.stdout.strip()

    def tg_notice() -> bool:
        return bool(fake_tg.sent_to(GROUP))

    await eventually(tg_notice, limit=30, what="the notice on Telegram")
    (notice,) = fake_tg.sent_to(GROUP)
    assert buttons_of(notice.reply_markup) == [("✅ 已阅 Got it", "palm:confirm")]

    async def mx_notice() -> dict[str, Any] | None:
        found = [e for e in await alice.messages(room) if e["sender"] == bot.user_id]
        return found[0] if found else None

    await eventually(mx_notice, limit=30, what="the notice on Matrix")
    event = await mx_notice()
    assert event is not None

    async def bot_reacted() -> bool:
        return any(e["sender"] == bot.user_id
                   and e["content"]["m.relates_to"] == {"rel_type": "m.annotation",
                                                        "event_id": event["event_id"], "key": "✅"}
                   for e in await reactions(alice, room))  # fmt: skip

    await eventually(bot_reacted, limit=30, what="the bot's own ✅ under the notice")

    # Matrix: alice reacts ✅, bob replies 收到, carol does nothing.
    await react(alice, room, event["event_id"])
    await bob.send(room, "收到", reply_to=event["event_id"])
    # Telegram: two residents press the button, one of them twice.
    li, wang = fake_tg.user(8001, language="zh"), fake_tg.user(8002, language="en")
    first = fake_tg.press(GROUP, notice.message_id, "palm:confirm", li)
    second = fake_tg.press(GROUP, notice.message_id, "palm:confirm", wang)
    again = fake_tg.press(GROUP, notice.message_id, "palm:confirm", li)

    async def four() -> bool:
        return len(fake_tg.callbacks.answers) == 3 and (
            (await palm.cli_json("announcements", "confirmations", ann))["confirmed"] == 4
        )

    await eventually(four, limit=40, what="four confirmations")
    answers = fake_tg.callbacks.answers
    assert answers[first] == "已确认，谢谢 ✅"  # in each resident's language
    assert answers[second] == "Confirmed, thank you ✅"
    assert answers[again] == "您已确认过 ✅"

    report = await palm.cli_json("announcements", "confirmations", ann)
    chats = {c["target"]: c for c in report["chats"]}
    mx, tg = chats[f"matrix:{room}"], chats[f"telegram:{GROUP}"]
    assert (mx["confirmed"], mx["known"]) == (2, 3)
    assert [p["resident"] for p in mx["pending"]] == [f"matrix:{carol.user_id}"]
    assert (tg["confirmed"], tg["known"], tg["members"]) == (2, 2, 120)
    text = (await palm.cli("announcements", "confirmations", ann)).stdout
    print(text)  # the README's example
    assert "2/3 confirmed" in text
    assert "2 confirmed, 2 seen, 120 members" in text
    # None of these replies, reactions or presses became a ticket.
    assert (await palm.cli_json("tickets", "list"))["tickets"] == []

    # remind mentions exactly carol, in a reply to the notice; Telegram has no one left.
    done = await palm.cli("announcements", "remind", ann)
    print(done.stdout)
    assert done.returncode == 0, done.stderr
    assert f"matrix:{room}: reminded 1 resident in 1 message" in done.stdout
    assert f"telegram:{GROUP}: everyone known there has confirmed" in done.stdout

    async def reminder() -> dict[str, Any] | None:
        found = [e for e in await alice.messages(room)
                 if e["sender"] == bot.user_id and "m.mentions" in e["content"]]  # fmt: skip
        return found[0] if found else None

    await eventually(reminder, limit=30, what="the reminder on Matrix")
    sent = await reminder()
    assert sent is not None
    assert sent["content"]["m.mentions"] == {"user_ids": [carol.user_id]}
    assert f'href="https://matrix.to/#/{carol.user_id}"' in sent["content"]["formatted_body"]
    assert sent["content"]["m.relates_to"] == {"m.in_reply_to": {"event_id": event["event_id"]}}
    assert len(fake_tg.sent_to(GROUP)) == 1  # no reminder where everyone confirmed
    again_too_soon = await palm.cli("announcements", "remind", ann)
    print(again_too_soon.stderr)
    assert again_too_soon.returncode == 1
    assert "the next reminder can go at" in again_too_soon.stderr
    assert again_too_soon.stderr.count("\n") == 1
    # carol answers the reminder with 收到: that confirms too, and opens no ticket.
    await carol.send(room, "收到!", reply_to=sent["event_id"])

    async def five() -> bool:
        return (await palm.cli_json("announcements", "confirmations", ann))["confirmed"] == 5

    await eventually(five, limit=30, what="carol's confirmation")
    assert (await palm.cli_json("tickets", "list"))["tickets"] == []

    # Households: alice and li share 5-302 (two platforms, one household), bob 5-303,
    # carol 6-101, and someone on Telegram 6-102.
    for resident, unit in ((f"matrix:{alice.user_id}", "5-302"), ("telegram:8001", "5-302"),
                           (f"matrix:{bob.user_id}", "5-303"),
                           (f"matrix:{carol.user_id}", "6-101"),
                           ("telegram:8009", "6-102")):  # fmt: skip
        set_unit = await palm.cli("residents", "set", resident, "--unit", unit)
        assert set_unit.returncode == 0, set_unit.stderr
    report = await palm.cli_json("announcements", "confirmations", ann)
    buildings = {x["building"]: x for x in report["buildings"]}
    assert (buildings["5"]["confirmed"], buildings["5"]["households"]) == (2, 2)
    # 6-102's resident is in no chat of the notice: still a household of building 6.
    assert (buildings["6"]["confirmed"], buildings["6"]["households"]) == (1, 2)
    assert [p["unit"] for p in buildings["6"]["pending"]] == ["6-102"]
    assert report["unbound_pending"] == 0
    text = (await palm.cli("announcements", "confirmations", ann, "--by", "building")).stdout
    print(text)
    assert "building:5  2 of 2 households confirmed" in text
    assert "building:6  1 of 2 households confirmed" in text
    assert "not yet: 6-102 (telegram:8009)" in text
