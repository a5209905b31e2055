"""`kill -9` during a burst of 200 confirmations (each pressed twice): after a
restart every resident is counted once, none lost, none twice."""

from __future__ import annotations

from redis.asyncio import Redis

from gateway.keys import Keys
from tests.e2e.conftest import PalmFactory, eventually
from tests.fakes.telegram_api import FakeTelegram

GROUP = -100999
N = 200


async def test_kill_9_during_a_burst_of_confirmations(
    fake_tg: FakeTelegram, make_palm: PalmFactory, redis: Redis, keys: Keys
) -> None:
    targets = [{"id": f"telegram:{GROUP}", "tags": ["building:9"]}]
    palm = make_palm(telegram=fake_tg, targets=targets)
    palm.start()
    await palm.ready()
    done = await palm.cli("announce", "Water off at 9", "--to", "building:9", "--confirm",
                          "--no-wait")  # fmt: skip
    assert done.returncode == 0, done.stderr
    ann = done.stdout.strip()
    await eventually(lambda: bool(fake_tg.sent_to(GROUP)), limit=30, what="the notice")
    (notice,) = fake_tg.sent_to(GROUP)
    users = [fake_tg.user(50_000 + i) for i in range(N)]
    for user in users + users:  # everyone presses twice
        fake_tg.press(GROUP, notice.message_id, "palm:confirm", user)
    key = keys("confirm", ann)

    async def some() -> bool:
        return int(await redis.hlen(key)) >= 20

    await eventually(some, limit=60, what="the first confirmations")
    palm.kill9()
    at_kill = int(await redis.hlen(key))
    print(f"killed with {at_kill} of {N} confirmations recorded")
    palm.start()
    await palm.ready()

    async def everyone() -> bool:
        return int(await redis.hlen(key)) >= N

    await eventually(everyone, limit=120, what=f"{N} confirmations (killed at {at_kill})")
    report = await palm.cli_json("announcements", "confirmations", ann)
    assert report["confirmed"] == N
    (chat,) = report["chats"]
    assert (chat["confirmed"], chat["known"], chat["pending"]) == (N, N, [])
    recorded = {str(r) for r in await redis.hkeys(key)}
    assert recorded == {f"telegram:{u['id']}" for u in users}
