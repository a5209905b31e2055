"""Faults 5, 6 and 7 through `palm run` and the fake Bot API.

5. a connection reset after the fake accepted ``sendMessage`` (the ambiguous case);
6. a 429 storm with random ``retry_after``;
7. 403 blocked, 400 chat not found, 400 migrate.
"""

from __future__ import annotations

import random
import re

import aiohttp
import pytest

from tests.fakes.telegram_api import FakeTelegram
from tests.faults.audit import audit, telegram_received, tg_audience
from tests.faults.conftest import PalmOn, announce, group_chats, seeds, wait_done


async def _metric(base: str, name: str) -> float:
    async with aiohttp.ClientSession() as s, s.get(base + "/metrics") as r:
        body = await r.text()
    m = re.search(rf"^{name} ([0-9.e+]+)$", body, re.M)
    return float(m.group(1)) if m else 0.0


async def test_reset_after_accept_is_counted_and_bounded(
    fake_tg: FakeTelegram, palm_on: PalmOn
) -> None:
    """Fault 5: the fake records the message, then resets the connection instead of answering."""
    ids = group_chats(60)
    ambiguous = ids[::6]  # 10 chats
    for chat in ambiguous:
        fake_tg.fail("reset_after", chat_id=chat, method="sendMessage", times=1)
    palm = palm_on(telegram=fake_tg, targets=seeds(ids))
    palm.start()
    await palm.ready()
    text = "F5 boiler check on Monday"
    ann = await announce(palm, text)
    shown = await wait_done(palm, ann, limit=60)
    result = audit(shown, tg_audience(ids), telegram_received(fake_tg, text))
    print(result.row("5 reset after sendMessage accepted", f"{len(ambiguous)} resets"))
    result.check()  # every chat has it; a second copy only where flagged; never a third
    # Only the reset chats may have a second copy.
    assert {t for t, n in result.received.items() if n > 1} <= set(tg_audience(ambiguous))
    assert result.duplicated <= result.counted <= len(ambiguous)
    assert await _metric(palm.base, "palm_telegram_ambiguous_sends_total") == len(ambiguous)
    assert fake_tg.violations == 0


@pytest.mark.slow
async def test_429_storm_with_random_retry_after_loses_nothing(
    fake_tg: FakeTelegram, palm_on: PalmOn
) -> None:
    """Fault 6 (Telegram): 40 forced 429s, retry_after 1-4 s (seeded)."""
    rng = random.Random(6)
    for _ in range(40):
        fake_tg.fail("retry_after", method="sendMessage", times=1, retry_after=rng.randint(1, 4))
    ids = group_chats(80)
    palm = palm_on(telegram=fake_tg, targets=seeds(ids))
    palm.start()
    await palm.ready()
    text = "F6 lift inspection on Wednesday"
    ann = await announce(palm, text)
    shown = await wait_done(palm, ann, limit=80)
    result = audit(shown, tg_audience(ids), telegram_received(fake_tg, text), max_copies=1)
    print(result.row("6 429 storm (Telegram)", f"{fake_tg.bot.forced_429} forced 429s"))
    assert fake_tg.bot.forced_429 == 40
    result.check()
    assert result.counted == 0
    assert fake_tg.violations == 0


async def test_blocked_not_found_and_migrate(fake_tg: FakeTelegram, palm_on: PalmOn) -> None:
    """Fault 7: failures are listed with their reason, gone targets are never retried,
    a migrated group is followed and gets the message exactly once."""
    ids = group_chats(20)
    blocked, missing, old, new = 700001, ids[1], ids[2], -1009999999999
    ids[0] = blocked  # a private chat that blocked the bot
    fault_blocked = fake_tg.fail("blocked", chat_id=blocked, times=100)
    fault_missing = fake_tg.fail("chat_not_found", chat_id=missing, times=100)
    fault_migrated = fake_tg.fail("migrated", chat_id=old, migrate_to=new, times=100)
    palm = palm_on(telegram=fake_tg, targets=seeds(ids))
    palm.start()
    await palm.ready()

    text = "F7 water off Thursday"
    shown = await wait_done(palm, await announce(palm, text))
    gone = {
        f"telegram:{blocked}": "bot was blocked by the user",
        f"telegram:{missing}": "chat not found",
    }
    moved = {f"telegram:{old}": f"telegram:{new}"}
    result = audit(
        shown, tg_audience(ids), telegram_received(fake_tg, text),
        expect_failed=gone, migrated=moved, max_copies=1,
    )  # fmt: skip
    print(result.row("7 403 blocked / 400 not found / 400 migrate", "1 of each among 20"))
    result.check()
    assert result.failed == gone
    # one request each: a permanent failure is never retried
    assert (100 - fault_blocked.times, 100 - fault_missing.times) == (1, 1)  # type: ignore[operator]
    assert 100 - fault_migrated.times == 1  # type: ignore[operator]
    assert len(fake_tg.sent_to(new)) == 1
    assert not fake_tg.sent_to(old)

    targets = await palm.cli_json("targets", "list")
    state = {t["id"]: (t["state"], t["reason"]) for t in targets}
    assert state[f"telegram:{blocked}"] == ("inactive", "bot was blocked by the user")
    assert state[f"telegram:{missing}"] == ("inactive", "chat not found")
    assert state[f"telegram:{old}"][0] == "inactive"
    assert state[f"telegram:{new}"][0] == "active"

    # A second announcement to the same tag: no request to the gone chats at all, and
    # the migrated group's tags moved to its new id.
    again = "F7 water back on"
    shown2 = await wait_done(palm, await announce(palm, again))
    assert (100 - fault_blocked.times, 100 - fault_missing.times) == (1, 1)  # type: ignore[operator]
    assert [m.text for m in fake_tg.sent_to(new)] == [text, again]
    active = [moved.get(t, t) for t in tg_audience(ids) if t not in gone]
    audit(shown2, active, telegram_received(fake_tg, again), max_copies=1).check()
    assert fake_tg.violations == 0
