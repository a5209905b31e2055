"""The funnel inside ``palm run``: tickets appear, SIGHUP reloads rules (a bad file is kept out)."""

from __future__ import annotations

import asyncio
import shutil
import signal
import subprocess
import time
from pathlib import Path

from redis.asyncio import Redis

from gateway.config import GatewayConfig
from gateway.inbound import RedisInboundSink
from gateway.keys import Keys
from gateway.models import Command
from tests.conftest import write_config
from tests.funnel.factory import message

ROOT = Path(__file__).resolve().parents[2]


async def _ticket(redis: Redis, keys: Keys, tid: str, within: float = 15) -> dict[str, str]:
    deadline = time.monotonic() + within
    while True:
        h = await redis.hgetall(keys("ticket", tid))
        if h:
            return h
        assert time.monotonic() < deadline, f"{tid} never appeared"
        await asyncio.sleep(0.05)


def _start_palm(cfg: Path, cwd: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [str(ROOT / ".venv/bin/palm"), "-c", str(cfg), "run"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, cwd=cwd,
    )  # fmt: skip


async def test_palm_run_funnel_and_sighup_reload(
    redis: Redis, keys: Keys, config: GatewayConfig, tmp_path: Path
) -> None:
    rules = tmp_path / "rules.yaml"
    shutil.copy(ROOT / "config" / "rules.yaml", rules)
    cfg = write_config(tmp_path / "palm.yaml", config, rules_file=str(rules))
    proc = _start_palm(cfg, tmp_path)
    try:
        sink = RedisInboundSink(redis, keys)
        await sink.accept([message("the pool pump is broken", command=Command.REPORT)])
        assert (await _ticket(redis, keys, "T-1"))["category"] == "other"

        rules.write_text("categories: [{category: water}]")  # bad: keywords missing
        proc.send_signal(signal.SIGHUP)
        await asyncio.sleep(0.5)
        assert proc.poll() is None  # a bad rules file does not stop palm
        await sink.accept([message("fire in the pool pump", command=Command.REPORT)])
        t2 = await _ticket(redis, keys, "T-2")
        assert (t2["category"], t2["priority"]) == ("fire-safety", "urgent")  # old rules

        rules.write_text("categories: [{category: water, keywords: [pool pump]}]")
        proc.send_signal(signal.SIGHUP)
        await asyncio.sleep(0.5)
        await sink.accept([message("the pool pump again", command=Command.REPORT)])
        assert (await _ticket(redis, keys, "T-3"))["category"] == "water"
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            _, err = proc.communicate(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            _, err = proc.communicate()
    assert b"categories[0].keywords" in err  # the reload failure was reported
