"""Fault-suite fixtures: `palm run` processes on any Redis, a Redis of the test's own
(AOF everysec, killable), and the inbound check.

Broadcasts are checked by ``tests.faults.audit`` (what every chat of the audience
received). Inbound: every resident message is in a ticket exactly once.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from redis.asyncio import Redis

from gateway.config import GatewayConfig
from gateway.keys import Keys
from tests.conftest import redis_server_binary, write_config
from tests.core.helpers import free_port
from tests.e2e.conftest import Palm, eventually, fake_tg
from tests.fakes.redis_proxy import RedisFaultProxy
from tests.fakes.telegram_api import FakeTelegram

__all__ = ["Palm", "eventually", "fake_tg"]


# --- a Redis of the test's own -------------------------------------------------
class OwnRedis:
    """redis-server on a free port with ``appendonly yes`` + ``appendfsync everysec``."""

    def __init__(self, workdir: Path) -> None:
        self.dir = workdir
        self.port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.dir.mkdir(parents=True, exist_ok=True)
        self.proc = subprocess.Popen(
            [redis_server_binary(), "--port", str(self.port), "--bind", "127.0.0.1",
             "--dir", str(self.dir), "--appendonly", "yes", "--appendfsync", "everysec",
             "--save", "", "--logfile", str(self.dir / "redis.log")],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        deadline = time.monotonic() + 15
        while not self._answers():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"own redis-server did not start: {self._log_tail()}")
            time.sleep(0.05)

    def _answers(self) -> bool:
        import socket

        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as s:
                s.sendall(b"PING\r\n")
                return s.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    def _log_tail(self) -> str:
        try:
            return (self.dir / "redis.log").read_text(errors="replace")[-500:]
        except OSError:
            return "(no log)"

    def kill9(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[OwnRedis]:
    server = OwnRedis(tmp_path / "own-redis")
    server.start()
    try:
        yield server
    finally:
        server.stop()
        shutil.rmtree(server.dir, ignore_errors=True)


@pytest.fixture
async def redis_proxy(redis_url: str) -> AsyncIterator[RedisFaultProxy]:
    """A fault proxy in front of the shared test Redis."""
    host_port = redis_url.split("://", 1)[1].split("/", 1)[0]
    host, _, port = host_port.rpartition(":")
    async with RedisFaultProxy(host or "127.0.0.1", int(port or 6379)) as proxy:
        yield proxy


# --- palm run processes ------------------------------------------------------------
PalmOn = Callable[..., Palm]


@pytest.fixture
def palm_on(config: GatewayConfig, tmp_path: Path) -> Iterator[PalmOn]:
    """``palm_on(name, telegram=fake, redis_url=..., **top_level)``: an unstarted palm.

    Every palm of one test shares the test's key prefix (one deployment); ``redis_url``
    points it at the test's own Redis or at a fault proxy instead of the shared one.
    """
    made: list[Palm] = []

    def factory(
        name: str = "palm", *, telegram: FakeTelegram | None = None,
        matrix: dict[str, Any] | None = None, redis_url: str | None = None, **extra: Any,
    ) -> Palm:  # fmt: skip
        port = free_port()
        env = {**os.environ, "PALM_STAFF_NAME": "secretary"}
        platforms: dict[str, Any] = {}
        if telegram is not None:
            env["PALM_E2E_TG_TOKEN"] = telegram.token
            platforms["telegram"] = {
                "token_env": "PALM_E2E_TG_TOKEN", "base_url": telegram.base_url,
                "poll_timeout": 1,
            }  # fmt: skip
        if matrix is not None:
            platforms["matrix"] = matrix
        redis_cfg = config.redis.model_copy(update={"url": redis_url or config.redis.url})
        cfg = config.model_copy(update={"data_dir": tmp_path / name, "redis": redis_cfg})
        extra.setdefault("http", {"listen": f"127.0.0.1:{port}"})
        extra.setdefault("outbox", {"workers": 8, "claim_idle_seconds": 2})
        path = write_config(tmp_path / f"{name}.yaml", cfg, platforms=platforms, **extra)
        palm = Palm(path, f"http://127.0.0.1:{port}", tmp_path / f"{name}.log", env)
        made.append(palm)
        return palm

    yield factory
    for palm in made:
        if palm.proc is not None and palm.proc.poll() is None:
            palm.proc.kill()
            palm.proc.wait(5)


# --- test data ------------------------------------------------------------------------
def group_chats(n: int, base: int = 1001000000000) -> list[int]:
    return [-(base + i) for i in range(n)]


def seeds(ids: list[int], tag: str = "all") -> list[dict[str, object]]:
    return [{"id": f"telegram:{c}", "tags": [tag]} for c in ids]


async def announce(palm: Palm, text: str, to: str = "all") -> str:
    done = await palm.cli("announce", text, "--to", to, "--no-wait")
    assert done.returncode == 0, done.stderr
    return done.stdout.split()[0]


async def wait_done(palm: Palm, ann_id: str, limit: float = 60) -> dict[str, Any]:
    shown: dict[str, Any] = {}

    async def finished() -> bool:
        nonlocal shown
        shown = await palm.cli_json("announcements", "show", ann_id)
        return bool(shown["status"] == "done")

    await eventually(finished, limit=limit, what=f"{ann_id} to finish")
    return shown


# --- inbound: what residents wrote, against what the tickets hold -----------------------
async def ticket_texts(redis: Redis, keys: Keys) -> Counter[str]:
    """Every inbound message text stored in any ticket, with its count."""
    out: Counter[str] = Counter()
    async for key in redis.scan_iter(match=keys("ticket", "*", "messages"), count=1000):
        for raw in await redis.lrange(key, 0, -1):
            m = json.loads(raw)
            if m.get("direction") == "in" and m.get("text"):
                out[str(m["text"])] += 1
    return out


def inbound_ledger(sent: list[str], stored: Counter[str]) -> tuple[int, int]:
    """(lost, duplicated) of resident messages ``sent`` against what the tickets hold."""
    lost = sum(1 for t in sent if stored[t] == 0)
    dup = sum(stored[t] - 1 for t in sent if stored[t] > 1)
    return lost, dup


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a process (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / ticks
