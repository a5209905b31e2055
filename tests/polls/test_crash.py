"""Exactly once through `kill -9`: 300 votes, palm killed in the middle of counting."""

from __future__ import annotations

import asyncio

import pytest

from tests.e2e.conftest import PalmFactory, eventually
from tests.fakes.telegram_api import FakeTelegram

N = 300
GROUP = -100900


@pytest.mark.slow
async def test_kill_9_during_a_burst_of_300_votes(
    fake_tg: FakeTelegram, make_palm: PalmFactory
) -> None:
    targets = [{"id": f"telegram:{GROUP}", "tags": ["building:7"], "title": "Building 7"}]
    palm = make_palm(telegram=fake_tg, targets=targets)
    palm.start()
    await palm.ready()
    made = await palm.cli("poll", "create", "Tank cleaning on Saturday or Sunday?", "--option",
                          "Saturday", "--option", "Sunday", "--to", "building:7")  # fmt: skip
    assert made.returncode == 0, made.stderr
    poll_id = made.stdout.strip()
    await eventually(lambda: bool(fake_tg.polls.by_id), limit=30, what="the native poll")
    poll = fake_tg.poll_in(GROUP)

    async def burst() -> None:
        # 20 votes a second: the kill lands in the middle, and the rest arrive while
        # palm is down (Telegram keeps them until palm confirms them).
        for n in range(N):
            fake_tg.vote(poll.id, fake_tg.user(900_000 + n), [n % 2])
            await asyncio.sleep(0.05)

    voting = asyncio.create_task(burst())

    async def voters() -> int:
        return int((await palm.cli_json("poll", "show", poll_id))["voters"])

    async def some() -> bool:
        return await voters() >= 20

    await eventually(some, limit=60, what="the first votes counted")
    palm.kill9()
    assert not voting.done(), "the burst ended before the kill"
    killed_at = await voters()
    await voting
    print(f"killed with {killed_at} of {N} votes counted")
    palm.start()
    await palm.ready()

    async def all_votes() -> bool:
        return await voters() == N

    await eventually(all_votes, limit=120, what=f"{N} votes (killed at {killed_at})")
    shown = await palm.cli_json("poll", "show", poll_id)
    assert shown["counts"] == [N // 2, N // 2]
    # Each update counted once: a replayed one would show up as "changed".
    assert shown["ignored"] == {"counted": N}
