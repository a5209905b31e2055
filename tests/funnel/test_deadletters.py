"""Parked funnel entries: what parks them, and where an operator finds them."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest
from redis.asyncio import Redis

from gateway.codec import encode_event
from gateway.config import GatewayConfig
from gateway.funnel import deadletters
from gateway.funnel.consumer import FunnelConsumer
from gateway.funnel.ticket_model import Written
from gateway.inbound import inbound_stream
from gateway.keys import Keys
from gateway.metrics import FUNNEL_DEAD_LETTERS
from gateway.models import Command
from gateway.runtime import Runtime
from tests.conftest import write_config
from tests.funnel.conftest import Pipeline
from tests.funnel.factory import GROUP, message

ROOT = Path(__file__).resolve().parents[2]


async def test_an_entry_whose_writes_keep_missing_is_parked_not_looped_on(
    funnel: Pipeline, redis: Redis, keys: Keys, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The settle finds the entry's writes missing every time (as after failovers that
    # keep demoting the server it wrote to): handled again a few times, then parked.
    async def missing(self: FunnelConsumer, entry_id: str, written: Written) -> bool:
        return False

    monkeypatch.setattr(FunnelConsumer, "_settle", missing)
    before = FUNNEL_DEAD_LETTERS._value.get()
    await funnel.sink.accept([message("5号楼漏水", command=Command.REPORT)])
    steps = 0
    while await funnel.consumer.step(block_ms=10) and steps < 20:
        steps += 1
    assert steps <= funnel.consumer.settings.max_deliveries  # not an endless loop
    parked = await deadletters.parked(redis, keys)
    assert [(p.target, p.text, p.error) for p in parked] == [
        (GROUP, "5号楼漏水", "its writes kept missing on redis")
    ]
    assert await redis.xlen(inbound_stream(keys)) == 0
    assert FUNNEL_DEAD_LETTERS._value.get() == before + 1


async def test_parked_entries_are_read_newest_first_and_never_raise(
    funnel: Pipeline, redis: Redis, keys: Keys
) -> None:
    stream = inbound_stream(keys)
    await redis.xadd(stream, {"e": "{not json"})
    await funnel.drain()
    await funnel.consumer._dead_letter("1-1", {"e": "x"}, "bug")
    await redis.rpush(keys("inbound", "deadletter"), "not a record")
    items = await deadletters.parked(redis, keys)
    assert [p.error for p in items] == ["unreadable dead-letter record", "bug", items[2].error]
    assert "malformed" in items[2].error
    assert items[2].raw == "{not json"
    assert items[2].target is None
    assert deadletters.in_scope(items, {GROUP}) == []  # no chat: the operator's alone
    assert deadletters.in_scope(items, None) == items


def _palm(cfg: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COLUMNS": "200"}
    return subprocess.run(
        [str(ROOT / ".venv/bin/palm"), "-c", str(cfg), *args],
        capture_output=True, text=True, timeout=30, env=env,
    )  # fmt: skip


async def test_palm_queue_dead_letters(
    runtime: Runtime, config: GatewayConfig, tmp_path: Path, keys: Keys
) -> None:
    consumer = FunnelConsumer(runtime, name="c")
    event = message("the lift smells of smoke", command=Command.REPORT)
    await consumer._dead_letter("5-1", {"e": encode_event(event)}, "KeyError: 'x'")
    cfg = write_config(tmp_path / "palm.yaml", config)
    listed = _palm(cfg, "queue", "dead-letters", "--json")
    assert listed.returncode == 0, listed.stderr
    [item] = json.loads(listed.stdout)
    assert (item["entry"], item["target"], item["text"], item["error"]) == (
        "5-1", GROUP, "the lift smells of smoke", "KeyError: 'x'"
    )  # fmt: skip
    table = _palm(cfg, "queue", "dead-letters")
    assert table.returncode == 0, table.stderr
    assert "the lift smells of smoke" in table.stdout
    assert "KeyError" in table.stdout
