"""End-to-end fixtures: `palm run` as a real process against the fake Bot API
(in this test's event loop) and the real Synapse, on the test Redis."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from gateway.config import GatewayConfig
from tests.conftest import write_config
from tests.core.helpers import PALM, REPO, free_port
from tests.fakes.telegram_api import FakeTelegram


@dataclass
class Palm:
    """One `palm run` process and helpers to drive the CLI against the same config."""

    config_path: Path
    base: str
    log: Path
    env: dict[str, str]
    proc: subprocess.Popen[bytes] | None = None
    extra_env: dict[str, str] = field(default_factory=dict)

    def start(self) -> None:
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(
                [*PALM, "-c", str(self.config_path), "run"], stdout=out,
                stderr=subprocess.STDOUT, cwd=REPO, env=self.env, stdin=subprocess.DEVNULL,
            )  # fmt: skip

    async def ready(self, limit: float = 30) -> None:
        deadline = time.monotonic() + limit
        async with aiohttp.ClientSession() as s:
            while time.monotonic() < deadline:
                assert self.proc is not None
                if self.proc.poll() is not None:
                    raise AssertionError(f"palm exited {self.proc.returncode}:\n{self.tail()}")
                try:
                    async with s.get(self.base + "/readyz") as r:
                        if r.status == 200:
                            return
                except aiohttp.ClientError:
                    pass
                await asyncio.sleep(0.1)
        raise AssertionError(f"palm not ready:\n{self.tail()}")

    def kill9(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(12)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)

    def tail(self, n: int = 60) -> str:
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-n:])

    async def dump_tasks(self) -> str:
        """The log's tail after ``SIGUSR1`` made palm write what its tasks wait on."""
        if self.proc is None or self.proc.poll() is not None:
            return self.tail()
        self.proc.send_signal(signal.SIGUSR1)
        await asyncio.sleep(1.0)
        return self.tail(400)

    async def cli(self, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        """Run `palm -c CONFIG ARGS...` without blocking the fake server's loop."""
        proc = await asyncio.create_subprocess_exec(
            *PALM, "-c", str(self.config_path), *args, cwd=REPO, env=self.env,
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        )  # fmt: skip
        out, err = await asyncio.wait_for(proc.communicate(), timeout)
        assert proc.returncode is not None
        return subprocess.CompletedProcess(list(args), proc.returncode, out.decode(), err.decode())

    async def cli_json(self, *args: str) -> Any:
        done = await self.cli(*args, "--json")
        assert done.returncode == 0, done.stderr
        return json.loads(done.stdout)


@pytest.fixture
async def fake_tg() -> AsyncIterator[FakeTelegram]:
    server = FakeTelegram()
    await server.start()
    try:
        yield server
    finally:
        await server.aclose()


PalmFactory = Callable[..., Palm]


@pytest.fixture
def make_palm(config: GatewayConfig, tmp_path: Path) -> Iterator[PalmFactory]:
    """``make_palm(telegram=fake, matrix={...}, **top_level_keys)``: an unstarted palm."""
    made: list[Palm] = []

    def factory(
        telegram: FakeTelegram | None = None, matrix: dict[str, Any] | None = None,
        name: str = "palm", **extra: Any,
    ) -> Palm:  # fmt: skip
        port = free_port()
        platforms: dict[str, Any] = {}
        env = {**os.environ, "PALM_STAFF_NAME": "secretary"}
        if telegram is not None:
            env["PALM_E2E_TG_TOKEN"] = telegram.token
            platforms["telegram"] = {
                "token_env": "PALM_E2E_TG_TOKEN", "base_url": telegram.base_url,
                "base_file_url": telegram.base_file_url, "poll_timeout": 1,
            }  # fmt: skip
        if matrix is not None:
            platforms["matrix"] = matrix
        cfg = config.model_copy(update={"data_dir": tmp_path / name})
        extra.setdefault("http", {"listen": f"127.0.0.1:{port}"})
        extra.setdefault("outbox", {"workers": 8, "claim_idle_seconds": 2})
        path = write_config(tmp_path / f"{name}.yaml", cfg, platforms=platforms, **extra)
        palm = Palm(path, f"http://127.0.0.1:{port}", tmp_path / f"{name}.log", env)
        made.append(palm)
        return palm

    yield factory
    for palm in made:
        palm.stop()


async def eventually(
    check: Callable[[], Awaitable[bool]] | Callable[[], bool], limit: float = 20,
    what: str = "condition",
) -> None:  # fmt: skip
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        result = check()
        if asyncio.iscoroutine(result):
            result = await result
        if result:
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")
