"""An urgent announcement sent during a large normal broadcast overtakes the backlog,
through `palm run` and the fake Bot API with Telegram's limits enforced."""

from __future__ import annotations

from tests.e2e.conftest import PalmFactory, eventually
from tests.fakes.telegram_api import FakeTelegram

NORMAL = 400
URGENT = 5


async def test_urgent_overtakes_the_normal_backlog(
    fake_tg: FakeTelegram, make_palm: PalmFactory
) -> None:
    normal_chats = [100_000 + n for n in range(NORMAL)]
    urgent_chats = [200_000 + n for n in range(URGENT)]
    targets = [
        {"id": f"telegram:{c}", "tags": ["everyone"], "kind": "direct"} for c in normal_chats
    ]
    targets += [{"id": f"telegram:{c}", "tags": ["duty"], "kind": "direct"} for c in urgent_chats]
    palm = make_palm(telegram=fake_tg, targets=targets)
    palm.start()
    await palm.ready()

    normal = await palm.cli("announce", "Lift maintenance on Friday", "--to", "everyone",
                            "--no-wait")  # fmt: skip
    assert normal.returncode == 0, normal.stderr
    # Let the broadcast get going: about 30 messages a second at Telegram's limit.
    await eventually(lambda: len(fake_tg.messages) >= 30, what="the normal broadcast to start")
    urgent = await palm.cli("announce", "Gas leak in building 2: leave now", "--to", "duty",
                            "--urgent", "--no-wait")  # fmt: skip
    assert urgent.returncode == 0, urgent.stderr
    await eventually(
        lambda: len(fake_tg.messages) == NORMAL + URGENT, limit=60, what="every delivery"
    )
    order = [m.chat_id for m in fake_tg.messages]
    last_urgent = max(order.index(c) for c in urgent_chats)
    normal_after = sum(1 for c in order[last_urgent + 1 :] if c in set(normal_chats))
    # The urgent ones went out while most of the normal backlog was still waiting.
    assert normal_after >= NORMAL // 2, (last_urgent, normal_after)
    assert sorted(order) == sorted(normal_chats + urgent_chats)  # each exactly once
    assert fake_tg.violations == 0
    print(f"\nurgent done at arrival #{last_urgent + 1}; {normal_after} normal still after it")
