"""The outbox through real `palm run` processes and the fake Telegram Bot API.

kill -9 mid-broadcast then a restart; two processes sharing one broadcast; edit and
recall from the CLI. Telegram's own limits (30/s per bot) are enforced by the fake,
so a 300-chat broadcast takes about ten seconds.
"""

from __future__ import annotations

import json
from collections import Counter

import pytest
from redis.asyncio import Redis

from gateway.keys import Keys
from tests.e2e.conftest import PalmFactory, eventually
from tests.fakes.telegram_api import FakeTelegram

pytestmark = pytest.mark.slow


def chats(n: int) -> list[int]:
    return [-1001000000000 - i for i in range(n)]


def seeds(ids: list[int]) -> list[dict[str, object]]:
    return [{"id": f"telegram:{c}", "tags": ["all"]} for c in ids]


async def test_kill_9_of_palm_run_mid_broadcast_then_restart(
    fake_tg: FakeTelegram, make_palm: PalmFactory
) -> None:
    ids = chats(300)
    palm = make_palm(telegram=fake_tg, targets=seeds(ids))
    palm.start()
    await palm.ready()
    done = await palm.cli("announce", "Water off tomorrow 9-12", "--to", "all", "--no-wait")
    assert done.returncode == 0, done.stderr
    ann_id = done.stdout.split()[0]

    await eventually(lambda: len(fake_tg.messages) >= 100, limit=30, what="100 sends")
    palm.kill9()
    at_kill = len(fake_tg.messages)
    assert at_kill < 300

    again = make_palm(telegram=fake_tg, targets=seeds(ids), name="palm2")
    again.start()
    await again.ready()

    async def finished() -> bool:
        shown = await again.cli_json("announcements", "show", ann_id)
        return bool(shown["status"] == "done")

    await eventually(finished, limit=60, what="the broadcast to finish after the restart")
    shown = await again.cli_json("announcements", "show", ann_id)
    assert shown["counts"] == {"sent": 300}
    per_chat = Counter(m.chat_id for m in fake_tg.messages)
    assert set(per_chat) == set(ids)  # 0 lost
    duplicates = sum(n - 1 for n in per_chat.values())
    counted = sum(1 for d in shown["deliveries"] if d["possible_duplicate"])
    assert duplicates <= counted  # any Telegram duplicate is a counted in-flight send
    assert fake_tg.violations == 0
    print(f"palm run killed after {at_kill} of 300; duplicates {duplicates}, counted {counted}")


async def test_two_palm_processes_share_a_broadcast(
    fake_tg: FakeTelegram, make_palm: PalmFactory, redis: Redis, keys: Keys
) -> None:
    ids = chats(120)
    one = make_palm(telegram=fake_tg, targets=seeds(ids), name="one")
    two = make_palm(telegram=fake_tg, targets=seeds(ids), name="two")
    one.start()
    two.start()
    await one.ready()
    await two.ready()
    done = await one.cli("announce", "Lift maintenance on Friday", "--to", "all")
    assert done.returncode == 0, done.stderr
    per_chat = Counter(m.chat_id for m in fake_tg.messages)
    assert per_chat == dict.fromkeys(ids, 1)  # every chat once, none twice
    assert fake_tg.violations == 0
    ann_id = done.stdout.split()[0]
    owners = set()
    for c in ids:
        owner = await redis.hget(keys("outbox", "d", f"{ann_id}:telegram:{c}"), "owner")
        owners.add(str(owner).split(":")[1])  # host:pid:... -> pid
    assert len(owners) == 2, "both processes should have sent part of the broadcast"


async def test_edit_and_recall_from_the_cli_reach_telegram(
    fake_tg: FakeTelegram, make_palm: PalmFactory
) -> None:
    ids = chats(3)
    palm = make_palm(telegram=fake_tg, targets=seeds(ids))
    palm.start()
    await palm.ready()
    done = await palm.cli("announce", "Tank cleaning **Tue**", "--to", "all")
    assert done.returncode == 0, done.stderr
    ann_id = done.stdout.split()[0]
    edited = await palm.cli("announcements", "edit", ann_id, "Tank cleaning **Wed**", "--json")
    assert edited.returncode == 0, edited.stderr
    assert {r["result"] for r in json.loads(edited.stdout)} == {"done"}
    assert {m.text for m in fake_tg.messages} == {"Tank cleaning Wed"}
    fake_tg.age_messages(49 * 3600)  # Telegram bots may delete only within 48 h
    recalled = await palm.cli("announcements", "recall", ann_id, "--json")
    assert recalled.returncode == 1
    assert recalled.stderr.strip() == "palm: 3 of 3 targets could not be recalled"
    results = json.loads(recalled.stdout)
    assert {r["result"] for r in results} == {"not possible"}
    assert all("delete" in r["reason"] for r in results)
