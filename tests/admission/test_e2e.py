"""Issue 10's first "done when": `palm run` against the fake Bot API and a real Synapse.

The bot is added to a new Telegram group and invited to a new Matrix room (two of each:
one to approve, one to reject). Each registers as pending and gets one notice;
`palm announce --to '*'` does not reach them; approval makes them reachable; rejection
makes the bot leave (the fake sees leaveChat; Synapse shows the bot's membership
`leave`)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import aiohttp
import pytest

from tests.e2e.conftest import PalmFactory, eventually
from tests.fakes.synapse import Synapse, User
from tests.fakes.telegram_api import FakeTelegram

pytestmark = [pytest.mark.synapse, pytest.mark.slow]

SEEDED, TG_OK, TG_NO = -1005, -100777, -100888


async def test_pending_chats_wait_then_approve_or_reject(
    fake_tg: FakeTelegram, make_palm: PalmFactory, synapse: Synapse, new_user: Callable[..., Any]
) -> None:
    bot: User = await new_user("palmbot")
    stranger: User = await new_user("stranger")
    matrix = {
        "homeserver": synapse.url, "user_id": bot.user_id,
        "password_env": "PALM_TEST_MATRIX_PASSWORD", "auto_join": "any", "sync_timeout_ms": 1000,
    }  # fmt: skip
    palm = make_palm(
        telegram=fake_tg, matrix=matrix, admission="approve",
        targets=[{"id": f"telegram:{SEEDED}", "tags": ["building:5"]}],
    )  # fmt: skip
    palm.env["PALM_TEST_MATRIX_PASSWORD"] = bot.password
    palm.start()
    await palm.ready()

    fake_tg.add_bot_to_group(TG_OK, "Building 7")
    fake_tg.add_bot_to_group(TG_NO, "Free crypto")
    room_ok = await stranger.create_room(invite=[bot.user_id], name="Building 8")
    room_no = await stranger.create_room(invite=[bot.user_id], name="Spam room")
    pending_ids = sorted([f"telegram:{TG_OK}", f"telegram:{TG_NO}",
                          f"matrix:{room_ok}", f"matrix:{room_no}"])  # fmt: skip

    async def all_pending() -> bool:
        listed = await palm.cli_json("targets", "pending")
        return sorted(t["id"] for t in listed) == pending_ids

    await eventually(all_pending, limit=40, what="four pending chats")

    def bot_texts(events: list[dict[str, Any]]) -> list[str]:
        return [e["content"].get("body", "") for e in events if e["sender"] == bot.user_id]

    async def notices_arrived() -> bool:
        tg = [len(fake_tg.sent_to(c)) for c in (TG_OK, TG_NO)]
        mx = [len(bot_texts(await stranger.messages(r))) for r in (room_ok, room_no)]
        return tg == [1, 1] and mx == [1, 1]

    await eventually(notices_arrived, limit=30, what="one notice in each pending chat")
    assert "awaiting approval" in (fake_tg.sent_to(TG_OK)[0].text or "") or "批准" in (
        fake_tg.sent_to(TG_OK)[0].text or ""
    )
    # A /report in a pending group opens no ticket and gets no answer.
    fake_tg.group_message(TG_OK, "/report the gate is broken")

    first = await palm.cli("announce", "Water off 9:00-12:00", "--to", "*")
    assert first.returncode == 0, first.stderr + palm.tail()
    assert [m.text for m in fake_tg.sent_to(SEEDED)] == ["Water off 9:00-12:00"]
    assert len(fake_tg.sent_to(TG_OK)) == 1  # the notice only
    assert len(fake_tg.sent_to(TG_NO)) == 1
    assert "Water off 9:00-12:00" not in bot_texts(await stranger.messages(room_ok))
    shown = await palm.cli_json("announcements", "show", first.stdout.split()[0])
    assert [d["target"] for d in shown["deliveries"]] == [f"telegram:{SEEDED}"]
    tickets = await palm.cli_json("tickets", "list")
    assert tickets["tickets"] == []

    for target, tag in ((f"telegram:{TG_OK}", "building:7"), (f"matrix:{room_ok}", "building:8")):
        done = await palm.cli("targets", "approve", target, "--tag", tag)
        assert done.returncode == 0, done.stderr
    for target in (f"telegram:{TG_NO}", f"matrix:{room_no}"):
        done = await palm.cli("targets", "reject", target)
        assert done.returncode == 0, done.stderr

    second = await palm.cli("announce", "Gas check Tue", "--to", "*")
    assert second.returncode == 0, second.stderr + palm.tail()
    assert [m.text for m in fake_tg.sent_to(TG_OK)][-1] == "Gas check Tue"
    assert bot_texts(await stranger.messages(room_ok))[-1] == "Gas check Tue"
    assert all(m.text != "Gas check Tue" for m in fake_tg.sent_to(TG_NO))
    assert "Gas check Tue" not in bot_texts(await stranger.messages(room_no))
    tagged = await palm.cli("announce", "Lift repair", "--to", "building:7 | building:8")
    assert tagged.returncode == 0, tagged.stderr

    async def left() -> bool:
        members = await stranger.members(room_no)
        return fake_tg.bot.left_chats == [TG_NO] and members.get(bot.user_id) == "leave"

    await eventually(left, limit=30, what="the bot to leave both rejected chats")
    listed = {t["id"]: t for t in await palm.cli_json("targets", "list")}
    for target in (f"telegram:{TG_NO}", f"matrix:{room_no}"):
        assert (listed[target]["admission"], listed[target]["state"]) == ("rejected", "inactive")
    assert (await stranger.members(room_ok)).get(bot.user_id) == "join"
    assert fake_tg.violations == 0


FLOOD_GROUP = -100444


async def test_report_flood_through_palm_run(fake_tg: FakeTelegram, make_palm: PalmFactory) -> None:
    """Issue 10's second "done when", end to end: 500 /reports from one resident in a
    group open 5 tickets, get 1 acknowledgement, and all 500 are kept on those tickets."""
    palm = make_palm(
        telegram=fake_tg, admission="approve",
        targets=[{"id": f"telegram:{FLOOD_GROUP}", "tags": ["building:4"]}],
    )  # fmt: skip
    palm.start()
    await palm.ready()
    spammer = fake_tg.user(4242)
    sent = [fake_tg.group_message(FLOOD_GROUP, f"/report leak {i}", sender=spammer)
            for i in range(500)]  # fmt: skip
    ids = {str(u["message"]["message_id"]) for u in sent}

    async def stored() -> set[str]:
        listed = await palm.cli_json("tickets", "list", "--limit", "100")
        got: set[str] = set()
        for t in listed["tickets"]:
            detail = await palm.cli_json("tickets", "show", t["id"])
            got |= {m["message_id"] for m in detail["conversation"] if m["direction"] == "in"}
        return got

    async def all_stored() -> bool:
        return await stored() == ids

    await eventually(all_stored, limit=90, what="all 500 flood messages on tickets")
    listed = await palm.cli_json("tickets", "list", "--limit", "100")
    assert len(listed["tickets"]) == 5
    await eventually(lambda: len(fake_tg.sent_to(FLOOD_GROUP)) >= 1, what="the acknowledgement")
    await asyncio.sleep(2.0)  # a second acknowledgement, if one were (wrongly) queued
    acks = [m.text for m in fake_tg.sent_to(FLOOD_GROUP)]
    assert len(acks) == 1, acks
    async with aiohttp.ClientSession() as s, s.get(palm.base + "/metrics") as r:
        metrics = await r.text()
    assert 'palm_inbound_limited_total{platform="telegram",reason="messages"} 470.0' in metrics
    assert 'palm_inbound_limited_total{platform="telegram",reason="tickets"} 25.0' in metrics
