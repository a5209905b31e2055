"""Issue 14's "done when", through `palm run` on the fake Bot API and the real Synapse."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from tests.e2e.conftest import PalmFactory, eventually
from tests.fakes.synapse import Synapse
from tests.fakes.telegram_api import FakeTelegram
from tests.polls.conftest import GROUP_A, GROUP_B, compound, events_of, respond


@pytest.mark.synapse
async def test_one_poll_across_platforms_counts_residents_and_households(
    fake_tg: FakeTelegram, make_palm: PalmFactory, synapse: Synapse,
    new_user: Callable[..., Any],
) -> None:  # fmt: skip
    c = await compound(make_palm, fake_tg, synapse, new_user)
    palm, bot, room = c.palm, c.bot, c.room
    alice, bob, carol = c.residents
    question = "Install EV chargers in the north car park?"
    made = await palm.cli("poll", "create", question, "--option", "同意",
                          "--option", "不同意", "--to", "building:5")  # fmt: skip
    assert made.returncode == 0, made.stderr
    poll_id = made.stdout.strip()
    assert poll_id == "P-1"

    def tg_polls() -> bool:
        return all(any(q.chat_id == g for q in fake_tg.polls.by_id.values())
                   for g in (GROUP_A, GROUP_B))  # fmt: skip

    await eventually(tg_polls, limit=30, what="the native polls in both Telegram groups")
    poll_a, poll_b = fake_tg.poll_in(GROUP_A), fake_tg.poll_in(GROUP_B)
    assert not poll_a.is_anonymous
    assert not poll_a.allows_multiple_answers
    assert poll_a.options == ["同意", "不同意"]

    async def mx_start() -> dict[str, Any] | None:
        found = await events_of(alice, room, "m.poll.start")
        return found[0] if found else None

    await eventually(mx_start, limit=30, what="the native poll on Matrix")
    start = await mx_start()
    assert start is not None
    assert start["sender"] == bot.user_id
    content = start["content"]
    assert [a["m.text"][0]["body"] for a in content["m.poll"]["answers"]] == ["同意", "不同意"]
    unstable = content["org.matrix.msc3381.poll.start"]  # what Element reads
    assert unstable["kind"] == "org.matrix.msc3381.poll.disclosed"
    assert [a["org.matrix.msc1767.text"] for a in unstable["answers"]] == ["同意", "不同意"]
    sid = start["event_id"]

    # Matrix: alice 同意, bob 不同意 then changes to 同意, carol (an older client) 不同意.
    await respond(alice, room, sid, ["0"])
    await respond(bob, room, sid, ["1"])
    await respond(carol, room, sid, ["1"], stable=False)
    # Telegram: li (north) 同意, wang (north) 不同意, zhao (south) 同意 then retracts.
    li, wang, zhao = fake_tg.user(8001), fake_tg.user(8002), fake_tg.user(8003)
    fake_tg.vote(poll_a.id, li, [0])
    fake_tg.vote(poll_a.id, wang, [1])
    fake_tg.vote(poll_b.id, zhao, [0])

    async def show() -> dict[str, Any]:
        return dict(await palm.cli_json("poll", "show", poll_id, "--by", "chat"))

    async def six_votes() -> bool:
        return (await show())["voters"] == 6

    await eventually(six_votes, limit=40, what="six votes")
    await respond(bob, room, sid, ["0"])
    fake_tg.vote(poll_b.id, zhao, [])
    # A comment: a reply to the poll message, which opens no ticket.
    poll_msg = next(m for m in fake_tg.sent_to(GROUP_A) if m.method == "sendPoll")
    fake_tg.group_message(GROUP_A, "Where exactly would they go?", sender=wang,
                          reply_to=poll_msg.message_id)  # fmt: skip

    async def settled() -> bool:
        s = await show()
        return s["voters"] == 5 and s["ignored"].get("changed") == 1 and len(s["comments"]) == 1

    await eventually(settled, limit=40, what="the change, the retraction and the comment")
    s = await show()
    assert s["counts"] == [3, 2]  # alice, bob, li | carol, wang
    assert s["by_platform"] == {"matrix": {"voters": 3, "counts": [2, 1]},
                                "telegram": {"voters": 2, "counts": [1, 1]}}  # fmt: skip
    assert s["by_chat"] == {f"matrix:{room}": {"voters": 3, "counts": [2, 1]},
                            f"telegram:{GROUP_A}": {"voters": 2, "counts": [1, 1]}}  # fmt: skip
    assert s["ignored"]["retracted"] == 1
    assert s["comments"][0]["text"] == "Where exactly would they go?"
    assert (await palm.cli_json("tickets", "list"))["tickets"] == []

    # Households: alice (Matrix) and li (Telegram) live in 5-302: one household.
    for resident, unit in ((f"matrix:{alice.user_id}", "5-302"), ("telegram:8001", "5-302"),
                           (f"matrix:{bob.user_id}", "5-303"),
                           (f"matrix:{carol.user_id}", "5-304"), ("telegram:8002", "6-101"),
                           ("telegram:8003", "5-305")):  # fmt: skip
        assert (await palm.cli("residents", "set", resident, "--unit", unit)).returncode == 0
    by_building = await palm.cli_json("poll", "show", poll_id, "--by", "building")
    five, six = by_building["by_building"]["5"], by_building["by_building"]["6"]
    assert (five["voters"], five["counts"]) == (4, [3, 1])
    assert (five["households_voted"], five["households_known"]) == (3, 4)
    assert five["household_counts"] == [2, 1]  # 5-302 once, 5-303 | 5-304
    assert (six["voters"], six["household_counts"]) == (1, [0, 1])
    assert by_building["turnout"] == {"residents_voted": 5, "residents_known": 6,
                                      "households_voted": 4, "households_known": 5}  # fmt: skip
    text = (await palm.cli("poll", "show", poll_id, "--by", "building")).stdout
    assert "3 of 4" in text
    assert "comment from" in text

    # Close: stopped on both platforms, the result in each chat, later votes not counted.
    closed = await palm.cli("poll", "close", poll_id)
    assert closed.returncode == 0, closed.stderr

    def tg_closed() -> bool:
        return all(fake_tg.poll_in(g).is_closed and any(
            m.text and "Voting is over" in m.text for m in fake_tg.sent_to(g))
            for g in (GROUP_A, GROUP_B))  # fmt: skip

    await eventually(tg_closed, limit=30, what="stopPoll and the result in both groups")
    result = [m for m in fake_tg.sent_to(GROUP_A) if m.text and "Voting is over" in m.text]
    assert len(result) == 1
    assert "1. 同意: 3" in (result[0].text or "")
    assert result[0].reply_to == poll_msg.message_id

    async def mx_closed() -> bool:
        ends = await events_of(alice, room, "m.poll.end")
        texts = [e for e in await alice.messages(room) if "Voting is over" in
                 str(e["content"].get("body", ""))]  # fmt: skip
        return len(ends) == 1 and len(texts) == 1

    await eventually(mx_closed, limit=30, what="the poll end and the result on Matrix")
    (end,) = await events_of(alice, room, "m.poll.end")
    assert end["content"]["m.relates_to"] == {"rel_type": "m.reference", "event_id": sid}
    await respond(carol, room, sid, ["0"])

    async def late() -> bool:
        return (await show())["ignored"].get("late") == 1

    await eventually(late, limit=30, what="the late vote seen and not counted")
    assert (await show())["counts"] == [3, 2]
    listed = await palm.cli_json("poll", "list")
    assert [(p["id"], p["state"]) for p in listed] == [(poll_id, "closed")]
