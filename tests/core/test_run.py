"""`palm run` as a real process: embedded Redis, health, signals, kill -9, crashes."""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

import psutil
import pytest
from redis.exceptions import ConnectionError as RedisConnectionError

from gateway.aio import TaskGroup
from gateway.app import run_gateway
from gateway.config import GatewayConfig
from gateway.runtime import Runtime
from tests.core.helpers import free_port, http_get, palm, start_palm, wait_http


def _embedded_config(tmp_path: Path) -> tuple[Path, str]:
    port = free_port()
    cfg = tmp_path / "palm.yaml"
    cfg.write_text(f"data_dir: ./var\nhttp: {{listen: '127.0.0.1:{port}'}}\n")
    return cfg, f"http://127.0.0.1:{port}"


def _redis_children(proc: subprocess.Popen[bytes]) -> list[psutil.Process]:
    return [c for c in psutil.Process(proc.pid).children() if "redis-server" in c.name()]


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.kill()
        proc.wait(10)


def test_embedded_default_serves_health_and_survives_kill_9(tmp_path: Path) -> None:
    cfg, base = _embedded_config(tmp_path)
    log = tmp_path / "palm.log"
    proc = start_palm(cfg, log)
    try:
        wait_http(base + "/healthz", proc, log)
        status, body = http_get(base + "/readyz")
        assert status == 200, body
        assert json.loads(body)["checks"] == {"redis": "ok"}
        # Another palm command talks to the embedded server of this palm run.
        made = palm("-c", str(cfg), "tokens", "create", "secretary", "--role", "staff")
        assert made.returncode == 0, made.stderr
        token = made.stdout.strip()
        assert http_get(base + "/api/v1/whoami", token)[0] == 200
        servers = _redis_children(proc)
        assert len(servers) == 1
        proc.kill()  # kill -9: no cleanup at all
        proc.wait(10)
        # The server must not linger (it gets SIGTERM when its parent dies).
        psutil.wait_procs(servers, timeout=10)
        assert not any(s.is_running() for s in servers)
    finally:
        _stop(proc)

    again = start_palm(cfg, log)
    try:
        wait_http(base + "/healthz", again, log)
        # What was in Redis before the kill is still there.
        assert http_get(base + "/api/v1/whoami", token)[0] == 200
    finally:
        _stop(again)


def test_sigterm_exits_zero_within_10_seconds(tmp_path: Path) -> None:
    cfg, base = _embedded_config(tmp_path)
    log = tmp_path / "palm.log"
    proc = start_palm(cfg, log)
    try:
        wait_http(base + "/healthz", proc, log)
        servers = _redis_children(proc)
        start = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(12) == 0, log.read_text()
        assert time.monotonic() - start < 10
        psutil.wait_procs(servers, timeout=5)
        assert not any(s.is_running() for s in servers)
    finally:
        _stop(proc)


def test_cli_without_palm_run_starts_and_stops_its_own_server(tmp_path: Path) -> None:
    cfg, _ = _embedded_config(tmp_path)
    made = palm("-c", str(cfg), "tokens", "create", "ops", "--role", "admin", "--json")
    assert made.returncode == 0, made.stderr
    assert json.loads(made.stdout)["role"] == "admin"
    sock = tmp_path / "var" / "redis" / "redis.sock"
    lingering = [
        p
        for p in psutil.process_iter(["cmdline"])
        if str(sock) in " ".join(p.info["cmdline"] or [])
    ]
    assert lingering == []


def test_typo_in_config_is_exit_2_with_the_key(tmp_path: Path) -> None:
    cfg = tmp_path / "palm.yaml"
    cfg.write_text("data_dir: ./var\nhtpp: {listen: '127.0.0.1:1'}\n")
    result = palm("-c", str(cfg), "run")
    assert result.returncode == 2
    assert result.stderr.strip() == f"palm: {cfg}: htpp: unknown key"
    assert "Traceback" not in result.stderr


def test_usage_errors_are_one_line() -> None:
    result = palm("tokens", "create", "x", "--role", "root")
    assert result.returncode == 2
    assert len(result.stderr.strip().splitlines()) == 1
    assert "invalid choice: 'root'" in result.stderr


@pytest.mark.parametrize("argv", [["--help"], ["run", "--help"], ["tokens", "create", "--help"]])
def test_help(argv: list[str]) -> None:
    result = palm(*argv)
    assert result.returncode == 0
    assert "usage: palm" in result.stdout


async def test_a_crashed_component_stops_everything(config: GatewayConfig) -> None:
    cancelled = asyncio.Event()

    async def healthy(rt: Runtime) -> None:
        try:
            await asyncio.sleep(3600)
        finally:
            cancelled.set()

    async def broken(rt: Runtime) -> None:
        await asyncio.sleep(0.05)
        raise RuntimeError("boom")

    cfg = config.model_copy(
        update={"http": config.http.model_copy(update={"listen": f"127.0.0.1:{free_port()}"})}
    )
    with pytest.raises(ExceptionGroup) as info:
        await asyncio.wait_for(
            run_gateway(cfg, extra=[("healthy", healthy), ("broken", broken)]), 10
        )
    assert any(isinstance(e, RuntimeError) for e in info.value.exceptions)
    assert cancelled.is_set()


async def _gateway_with(config: GatewayConfig, component: Any) -> asyncio.Task[None]:
    cfg = config.model_copy(
        update={"http": config.http.model_copy(update={"listen": f"127.0.0.1:{free_port()}"})}
    )
    return asyncio.create_task(run_gateway(cfg, extra=[("flaky", component)]))


async def _lose_redis() -> None:
    raise RedisConnectionError("Connection closed by server.")


async def test_a_component_whose_tasks_lost_redis_starts_again(config: GatewayConfig) -> None:
    # A component that runs a TaskGroup (the outbox workers, the work runner, the feed)
    # gets its tasks' Redis errors as an ExceptionGroup: still only "Redis is away".
    starts: list[int] = []
    again = asyncio.Event()

    async def flaky(rt: Runtime) -> None:
        starts.append(1)
        if len(starts) > 1:
            again.set()
            await asyncio.sleep(3600)
        async with TaskGroup() as tg:
            tg.create_task(_lose_redis())
            tg.create_task(asyncio.sleep(3600))

    gateway = await _gateway_with(config, flaky)
    try:
        await asyncio.wait_for(again.wait(), 15)
        assert not gateway.done()
    finally:
        gateway.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await gateway


async def test_a_group_with_a_bug_in_it_is_still_a_crash(config: GatewayConfig) -> None:
    async def bug() -> None:
        raise RuntimeError("boom")

    async def mixed(rt: Runtime) -> None:
        async with TaskGroup() as tg:
            tg.create_task(_lose_redis())
            tg.create_task(bug())

    gateway = await _gateway_with(config, mixed)
    with pytest.raises(BaseExceptionGroup):
        await asyncio.wait_for(gateway, 10)
