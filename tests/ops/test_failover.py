"""Redis Sentinel failover under load (issue 16, item 5): a real primary, replica and
three sentinels on loopback; `palm run` finds the primary through the sentinels.

- 300 inbound updates from the fake Bot API while the primary is `kill -9`ed mid-stream:
  with `replica_acks: 1` every update becomes exactly one stored message; with 0 the
  test reports what was lost (FAILOVER lines, quoted in the README).
- A 120-chat broadcast across a failover: none lost, duplicates only where counted.

During the failover palm does not exit and `/readyz` answers 503; then it resumes. The
killed primary is restarted (as systemd would), and the sentinels make it a replica.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import time
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import pytest
from redis.asyncio import Redis

from gateway.config import GatewayConfig, HttpConfig, RedisConfig
from gateway.keys import Keys
from gateway.ops.config import SentinelConfig
from tests.conftest import write_config
from tests.core.helpers import free_port
from tests.e2e.conftest import Palm, eventually, fake_tg
from tests.fakes.telegram_api import FakeTelegram
from tests.faults.audit import audit, telegram_received, tg_audience
from tests.faults.conftest import group_chats, seeds, ticket_texts
from tests.ops.sentinel import SERVICE, SentinelSetup

__all__ = ["fake_tg"]

pytestmark = pytest.mark.slow


_STARTED: list[Palm] = []


@pytest.fixture(autouse=True)
def _stop_palms() -> Iterator[None]:
    """Every palm a test made is stopped, whatever the test's end (none outlives it)."""
    yield
    while _STARTED:
        _STARTED.pop().stop()


def make_palm(
    tmp_path: Path, config: GatewayConfig, keys: Keys, ha: SentinelSetup, fake: FakeTelegram,
    acks: int, **extra: object,
) -> Palm:  # fmt: skip
    port = free_port()
    redis = RedisConfig(
        prefix=keys.prefix, replica_acks=acks,
        sentinel=SentinelConfig(service=SERVICE, nodes=ha.nodes),
    )  # fmt: skip
    http = HttpConfig(listen=f"127.0.0.1:{port}")
    cfg = config.model_copy(update={"data_dir": tmp_path / "palm", "redis": redis, "http": http})
    telegram = {"token_env": "PALM_HA_TG", "base_url": fake.base_url, "poll_timeout": 1}
    path = write_config(
        tmp_path / "palm.yaml", cfg, platforms={"telegram": telegram},
        outbox={"workers": 8, "claim_idle_seconds": 2}, **extra,
    )  # fmt: skip
    env = {**os.environ, "PALM_HA_TG": fake.token, "PALM_STAFF_NAME": "secretary"}
    palm = Palm(path, f"http://127.0.0.1:{port}", tmp_path / "palm.log", env)
    _STARTED.append(palm)
    return palm


class ReadyWatch:
    """Polls /readyz in the background; remembers every status it saw."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.seen: list[int] = []
        self._task: asyncio.Task[None] | None = None

    async def _poll(self) -> None:
        async with aiohttp.ClientSession() as s:
            while True:
                try:
                    async with s.get(self.base + "/readyz", timeout=aiohttp.ClientTimeout(7)) as r:
                        self.seen.append(r.status)
                except (aiohttp.ClientError, TimeoutError):
                    self.seen.append(0)
                await asyncio.sleep(0.2)

    def __enter__(self) -> ReadyWatch:
        self._task = asyncio.get_running_loop().create_task(self._poll())
        return self

    def __exit__(self, *exc: object) -> None:
        assert self._task is not None
        self._task.cancel()


async def fail_over(ha: SentinelSetup) -> float:
    """Kill -9 the primary; wait for the promotion; restart the old one. Returns seconds."""
    started = time.monotonic()
    ha.primary.kill9()
    await asyncio.to_thread(ha.wait_for, lambda: ha.master_port() == ha.ports[1])
    took = time.monotonic() - started
    await asyncio.to_thread(ha.primary.start)  # rejoins as a replica of the new primary
    return took


async def on_primary(ha: SentinelSetup) -> Redis:
    port = await asyncio.to_thread(ha.master_port)
    return Redis(port=port or 0, decode_responses=True)


@pytest.mark.parametrize("acks", [1, 0])
async def test_300_updates_across_a_failover(
    tmp_path: Path, config: GatewayConfig, keys: Keys, ha: SentinelSetup,
    fake_tg: FakeTelegram, acks: int,
) -> None:  # fmt: skip
    palm = make_palm(tmp_path, config, keys, ha, fake_tg, acks)
    palm.start()
    await palm.ready()
    texts = [f"ha{acks}-{i:03d}: the tap in the kitchen leaks" for i in range(300)]
    with ReadyWatch(palm.base) as watch:
        failover: asyncio.Task[float] | None = None
        for i, text in enumerate(texts):
            fake_tg.private_message(910_000 + i, text)
            if i == 100:
                failover = asyncio.create_task(fail_over(ha))
            await asyncio.sleep(0.02)
        assert failover is not None
        promoted_in = await failover

        stored: dict[str, int] = {}

        async def all_in() -> bool:
            nonlocal stored
            with contextlib.suppress(Exception):  # the primary may still be settling
                client = await on_primary(ha)
                try:
                    counts = await ticket_texts(client, keys)
                finally:
                    await client.aclose()
                stored = {t: counts[t] for t in texts}
            return all(stored.get(t) for t in texts)

        try:
            await eventually(all_in, limit=90 if acks else 45, what="every update stored")
        except AssertionError:
            if acks:
                raise AssertionError(palm.tail()) from None
        await eventually(lambda: watch.seen[-1:] == [200], limit=30, what="ready again")
    lost = sum(1 for t in texts if not stored.get(t))
    dup = sum(n - 1 for n in stored.values() if n > 1)
    print(
        f"FAILOVER replica_acks={acks}: 300 updates, lost {lost}, duplicated {dup}; promoted "
        f"in {promoted_in:.1f} s; /readyz 503 x{watch.seen.count(503)}"
    )
    assert palm.proc is not None
    assert palm.proc.poll() is None, "palm must not exit during a failover"
    assert 503 in watch.seen
    assert dup == 0
    if acks:
        assert lost == 0


async def test_broadcast_to_120_chats_across_a_failover(
    tmp_path: Path, config: GatewayConfig, keys: Keys, ha: SentinelSetup, fake_tg: FakeTelegram
) -> None:
    chats = group_chats(120)
    palm = make_palm(tmp_path, config, keys, ha, fake_tg, 1, targets=seeds(chats))
    palm.start()
    await palm.ready()
    text = "Water off in every building, 9:00-12:00"
    done = await palm.cli("announce", text, "--to", "all", "--no-wait")
    assert done.returncode == 0, done.stderr
    ann = done.stdout.split()[0]
    await eventually(lambda: len(fake_tg.messages) >= 30, what="the broadcast to be under way")
    promoted_in = await fail_over(ha)
    shown: dict[str, object] = {}

    async def finished() -> bool:
        nonlocal shown
        got = await palm.cli("announcements", "show", ann, "--json")
        if got.returncode != 0:
            return False
        shown = json.loads(got.stdout)
        return shown["status"] == "done"

    try:
        await eventually(finished, limit=120, what="the broadcast to finish")
    except AssertionError:
        raise AssertionError(await palm.dump_tasks()) from None
    # What every chat received, against the whole audience (tests/faults/audit.py).
    ledger = audit(shown, tg_audience(chats), telegram_received(fake_tg, text))
    failovers = await asyncio.to_thread(ha.failovers)
    print(
        f"FAILOVER broadcast: 120 chats, lost {ledger.lost}, duplicated {ledger.duplicated} "
        f"(counted {ledger.counted}); promoted in {promoted_in:.1f} s; failovers {failovers}"
    )
    if failovers == 1:
        ledger.check()
    else:
        # The sentinels failed over again (seen once in CI, on a loaded machine): the
        # sends recorded on the first new primary while it had no replica (palm logs
        # "recorded send not on the replicas yet") went with it when it was demoted, so
        # their repeats cannot be flagged. Nothing may be lost even then.
        print(f"FAILOVER broadcast: {failovers} failovers, not the scenario of this test")
    assert ledger.lost == 0
    assert not ledger.failed
    assert palm.proc is not None
    assert palm.proc.poll() is None
