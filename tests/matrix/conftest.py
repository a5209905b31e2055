"""A real Synapse for the Matrix tests, plus helpers to run the adapter against it.

``PALM_TEST_SYNAPSE_URL`` / ``PALM_TEST_SYNAPSE_SECRET_FILE`` name a running server
(CI sets them after ``scripts/dev-synapse start``); otherwise the fixture runs
``scripts/dev-synapse start`` itself when ``.synapse-venv`` exists, and leaves the
server running for the next run. Without a Synapse the tests are skipped, unless
``PALM_REQUIRE_SYNAPSE=1`` (CI), which makes them fail loudly instead.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import subprocess
import time
import urllib.request
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr
from redis.asyncio import Redis

from adapters.matrix import MatrixAdapter
from gateway.adapter import AdapterContext
from gateway.codec import decode_event
from gateway.config import MatrixConfig
from gateway.inbound import RedisInboundSink, inbound_stream
from gateway.keys import Keys
from gateway.models import InboundEvent
from tests.fakes.synapse import Synapse, User, unique_name

ROOT = Path(__file__).resolve().parents[2]


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url + "/_matrix/client/versions", timeout=2) as r:
            return bool(r.status == 200)
    except OSError:
        return False


def _unavailable(why: str) -> None:
    if os.environ.get("PALM_REQUIRE_SYNAPSE") == "1":
        pytest.fail(f"PALM_REQUIRE_SYNAPSE=1 but no Synapse: {why}", pytrace=False)
    pytest.skip(f"no Synapse: {why} (run scripts/dev-synapse install)")


def _from_script() -> tuple[str, str]:
    script = ROOT / "scripts" / "dev-synapse"
    proc = subprocess.run(
        [str(script), "start"], capture_output=True, text=True, timeout=90, check=False
    )
    if proc.returncode != 0:
        _unavailable(f"scripts/dev-synapse start failed: {proc.stderr.strip()[-500:]}")
    values = dict(
        line.split("=", 1) for line in proc.stdout.splitlines() if line.startswith("PALM_TEST_")
    )
    return values["PALM_TEST_SYNAPSE_URL"], values["PALM_TEST_SYNAPSE_SECRET_FILE"]


@pytest.fixture(scope="session")
def synapse() -> Synapse:
    url = os.environ.get("PALM_TEST_SYNAPSE_URL")
    secret_file = os.environ.get("PALM_TEST_SYNAPSE_SECRET_FILE")
    if not (url and secret_file):
        venv = Path(os.environ.get("PALM_SYNAPSE_VENV", ROOT / ".synapse-venv"))
        if not (venv / "bin" / "python").exists():
            _unavailable(f"PALM_TEST_SYNAPSE_URL is not set and {venv} does not exist")
        url, secret_file = _from_script()
    if not _answers(url):
        _unavailable(f"{url} does not answer")
    return Synapse(url.rstrip("/"), Path(secret_file).read_text().strip())


@pytest.fixture
async def admin(synapse: Synapse) -> User:
    return await synapse.register(unique_name("admin"), admin=True)


@pytest.fixture
def new_user(synapse: Synapse, admin: User) -> Callable[..., Any]:
    """``await new_user("alice")``: a fresh account; ``lifted=True`` lifts its rate limit."""

    async def make(stem: str, *, lifted: bool = True) -> User:
        user = await synapse.register(unique_name(stem))
        if lifted:
            await admin.override_ratelimit(user.user_id)
        return user

    return make


def bot_config(synapse: Synapse, bot: User, **overrides: Any) -> MatrixConfig:
    fields: dict[str, Any] = {
        "homeserver": synapse.url,
        "user_id": bot.user_id,
        "password": SecretStr(bot.password),
        "auto_join": "any",
        "sync_timeout_ms": 1000,
    }
    fields.update(overrides)
    return MatrixConfig(**fields)


def context(redis: Redis, keys: Keys) -> AdapterContext:
    return AdapterContext(redis, keys, RedisInboundSink(redis, keys), "test:1")


@contextlib.asynccontextmanager
async def running(
    config: MatrixConfig, redis: Redis, keys: Keys, *, sync: bool = True
) -> AsyncIterator[MatrixAdapter]:
    """A started adapter (and its sync loop, unless ``sync=False``), closed afterwards."""
    adapter = MatrixAdapter(config)
    await adapter.start(context(redis, keys))
    task = asyncio.create_task(adapter.run()) if sync else None
    try:
        yield adapter
    finally:
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await adapter.aclose()


async def stream_events(redis: Redis, keys: Keys) -> list[InboundEvent]:
    entries = await redis.xrange(inbound_stream(keys))
    return [decode_event(fields["e"]) for _, fields in entries]


async def wait_for(
    redis: Redis,
    keys: Keys,
    pred: Callable[[list[InboundEvent]], bool],
    *,
    within: float = 20.0,
    what: str = "events",
) -> list[InboundEvent]:
    deadline = time.monotonic() + within
    while True:
        events = await stream_events(redis, keys)
        if pred(events):
            return events
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}; stream has {events!r}")
        await asyncio.sleep(0.1)
