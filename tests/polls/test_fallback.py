"""A chat that refuses a native poll gets numbered options; a reply of a number votes,
and at closing it is told that voting is over (through `palm run`, fake Bot API)."""

from __future__ import annotations

from tests.e2e.conftest import PalmFactory, eventually
from tests.fakes.telegram_api import FakeTelegram

GROUP, CHANNEL = -100950, -100951


async def test_numbered_fallback_where_a_native_poll_is_refused(
    fake_tg: FakeTelegram, make_palm: PalmFactory
) -> None:
    fake_tg.polls.channels.add(CHANNEL)  # channels take no non-anonymous polls
    targets = [{"id": f"telegram:{g}", "tags": ["building:8"], "title": f"chat {g}"}
               for g in (GROUP, CHANNEL)]  # fmt: skip
    palm = make_palm(telegram=fake_tg, targets=targets)
    palm.start()
    await palm.ready()
    made = await palm.cli("poll", "create", "Repaint the lobby?", "--option", "Yes",
                          "--option", "No", "--to", "building:8")  # fmt: skip
    assert made.returncode == 0, made.stderr
    poll_id = made.stdout.strip()

    def delivered() -> bool:
        return bool(fake_tg.sent_to(CHANNEL)) and bool(fake_tg.polls.by_id)

    await eventually(delivered, limit=30, what="the poll and the numbered fallback")
    (numbered,) = fake_tg.sent_to(CHANNEL)
    assert numbered.method == "sendMessage"
    assert "1. Yes\n2. No" in (numbered.text or "")
    assert fake_tg.poll_in(GROUP).chat_id == GROUP
    voter = fake_tg.user(5555)
    fake_tg.group_message(CHANNEL, "2", sender=voter, reply_to=numbered.message_id)
    fake_tg.vote(fake_tg.poll_in(GROUP).id, fake_tg.user(5556), [0])

    async def two() -> bool:
        return (await palm.cli_json("poll", "show", poll_id))["counts"] == [1, 1]

    await eventually(two, limit=30, what="a native vote and a numbered one")
    assert (await palm.cli("poll", "close", poll_id)).returncode == 0

    def over() -> bool:
        return all(any("Voting is over" in (m.text or "") for m in fake_tg.sent_to(c))
                   for c in (GROUP, CHANNEL))  # fmt: skip

    await eventually(over, limit=30, what="voting is over in both chats")
    assert fake_tg.poll_in(GROUP).is_closed
    fake_tg.group_message(CHANNEL, "1", sender=fake_tg.user(5557), reply_to=numbered.message_id)

    async def late() -> bool:
        return (await palm.cli_json("poll", "show", poll_id))["ignored"].get("late") == 1

    await eventually(late, limit=30, what="the late numbered vote, not counted")
    assert (await palm.cli_json("tickets", "list"))["tickets"] == []
