"""Crashes and retries against a real Synapse: nothing lost, nothing twice.

The adapter runs in a child process (``tests.matrix.run_adapter``) so it can be
killed with SIGKILL at an awkward moment, then restarted on the same Redis state.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
from redis.asyncio import Redis

from adapters.matrix import MatrixAdapter
from gateway.errors import NetworkError
from gateway.keys import Keys
from gateway.models import InboundEvent, InboundMessage, OutboundMessage, TargetId, TargetSeen
from tests.fakes.synapse import Synapse, User
from tests.matrix.conftest import ROOT, bot_config, context, running, stream_events, wait_for
from tests.matrix.proxy import DroppingProxy

pytestmark = pytest.mark.synapse


def _env(homeserver: str, bot: User, redis_url: str, keys: Keys, **extra: str) -> dict[str, str]:
    return {
        **os.environ,
        "PALM_MX_HOMESERVER": homeserver,
        "PALM_MX_USER": bot.user_id,
        "PALM_MX_PASSWORD": bot.password,
        "PALM_REDIS_URL": redis_url,
        "PALM_KEYS_PREFIX": keys.prefix,
        **extra,
    }


@contextlib.asynccontextmanager
async def child(
    mode: str, env: dict[str, str], log: Path
) -> AsyncIterator[asyncio.subprocess.Process]:
    """The adapter in a child process; SIGKILLed on the way out if still alive."""
    with log.open("ab") as out:
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "tests.matrix.run_adapter",
            mode,
            cwd=ROOT,
            env=env,
            stdin=asyncio.subprocess.PIPE,
            stdout=out,
            stderr=out,
        )
    try:
        yield proc
    finally:
        if proc.returncode is None:
            proc.send_signal(signal.SIGKILL)
        await proc.wait()


def _read(log: Path) -> str:
    return log.read_text(errors="replace") if log.exists() else ""


async def _wait_log(log: Path, text: str, within: float = 20.0) -> str:
    for _ in range(int(within * 10)):
        content = _read(log)
        if text in content:
            return content
        await asyncio.sleep(0.1)
    raise AssertionError(f"{text!r} never appeared in the child's log:\n{content}")


def _messages(evs: list[InboundEvent]) -> list[InboundMessage]:
    return [e for e in evs if isinstance(e, InboundMessage)]


async def test_kill9_mid_batch_then_restart_loses_and_duplicates_nothing(
    synapse: Synapse,
    new_user: Callable[..., Any],
    redis: Redis,
    redis_url: str,
    keys: Keys,
    tmp_path: Path,
) -> None:
    bot = await new_user("palmbot")
    alice = await new_user("alice")
    env = _env(synapse.url, bot, redis_url, keys)
    log = tmp_path / "child.log"

    # 1. The bot runs, joins alice's room, and has a since token; then it goes down.
    async with child("sync", env, log):
        room = await alice.create_room(invite=[bot.user_id], name="Crash room")
        target = TargetId(f"matrix:{room}")
        await wait_for(
            redis,
            keys,
            lambda evs: any(isinstance(e, TargetSeen) and e.target == target for e in evs),
            what="join",
        )
        await asyncio.sleep(1.5)  # one more sync round, so the join's batch token is saved

    # 2. While it is down, 120 messages: more than one sync's timeline (limited -> backfill).
    sent = [await alice.send(room, f"message {i}") for i in range(120)]

    # 3. Restart with a slow store; SIGKILL once part of the batch is durable.
    slow = {**env, "PALM_SINK_CHUNK": "10", "PALM_SINK_PAUSE": "0.3"}
    async with child("sync", slow, log) as proc:
        await wait_for(redis, keys, lambda evs: len(_messages(evs)) >= 30, what="part of the batch")
        proc.send_signal(signal.SIGKILL)
        await proc.wait()
    stored_at_kill = len(_messages(await stream_events(redis, keys)))
    assert 30 <= stored_at_kill < 120, "the kill did not land inside the batch"

    # 4. Restart normally; 5 more messages on top.
    async with child("sync", env, log):
        await wait_for(redis, keys, lambda evs: len(_messages(evs)) >= 120, within=30)
        sent += [await alice.send(room, f"after restart {i}") for i in range(5)]
        await wait_for(redis, keys, lambda evs: len(_messages(evs)) >= 125, within=30)
        await asyncio.sleep(1.5)  # a duplicate, if any, would arrive now

    got = [m.message_id for m in _messages(await stream_events(redis, keys))]
    print(f"\nkill -9 with {stored_at_kill}/120 stored; after restart {len(got)} events")
    assert len(got) == len(set(got)), "duplicated events in the inbound stream"
    assert set(got) == set(sent), "lost (or foreign) events"
    assert got == sent, "events out of order"
    # The 120 did not fit one sync's timeline: the gap was paged back, not skipped.
    assert "matrix: backfilled" in _read(log)


async def test_send_retried_after_forced_failure_appears_once(
    synapse: Synapse, new_user: Callable[..., Any], redis: Redis, keys: Keys
) -> None:
    bot = await new_user("palmbot")
    alice = await new_user("alice")
    room = await alice.create_room(invite=[bot.user_id], name="Retry room")
    await bot.join(room)
    msg = OutboundMessage(TargetId(f"matrix:{room}"), "water off at 9", idempotency_key="d-1")
    async with (
        DroppingProxy(synapse.url) as proxy,
        running(bot_config(synapse, bot, homeserver=proxy.url), redis, keys, sync=False) as ad,
    ):
        # A first send reads the room's encryption state from the server (once): let it
        # through, so the dropped request below is the send itself.
        await ad.send(OutboundMessage(msg.target, "warm-up", idempotency_key="d-0"))
        proxy.drop = True
        with pytest.raises(NetworkError):
            await ad.send(msg)
        assert proxy.dropped >= 1
        # The failed attempt was applied by Synapse: only its answer was lost.
        first = [e for e in await alice.messages(room) if e["content"]["body"] == msg.text]
        assert len(first) == 1
        proxy.drop = False
        receipt = await ad.send(msg)
    assert receipt.message_ids == (first[0]["event_id"],)
    seen = [e for e in await alice.messages(room) if e["content"]["body"] == msg.text]
    assert len(seen) == 1


async def test_send_resumed_after_kill9_appears_once(
    synapse: Synapse,
    new_user: Callable[..., Any],
    redis: Redis,
    redis_url: str,
    keys: Keys,
    tmp_path: Path,
) -> None:
    bot = await new_user("palmbot")
    alice = await new_user("alice")
    room = await alice.create_room(invite=[bot.user_id], name="Resume room")
    await bot.join(room)
    text = "tank cleaning moved to Wednesday"
    log = tmp_path / "send.log"
    async with DroppingProxy(synapse.url) as proxy:
        env = _env(
            proxy.url,
            bot,
            redis_url,
            keys,
            PALM_SEND_ROOM=room,
            PALM_SEND_KEY="delivery-77",
            PALM_SEND_TEXT=text,
        )
        async with child("send", env, log) as proc:
            started = await _wait_log(log, "started device=")
            device = started.split("started device=")[1].split()[0]
            proxy.drop = True  # the send reaches Synapse, its answer never comes back
            assert proc.stdin is not None
            proc.stdin.write(b"go\n")
            await proc.stdin.drain()
            await _wait_log(log, "retryable:")
            proc.send_signal(signal.SIGKILL)
            await proc.wait()
    first = [e for e in await alice.messages(room) if e["content"]["body"] == text]
    assert len(first) == 1, "the killed send did not reach Synapse"

    # A fresh adapter (a new process would do the same) reuses the stored device.
    adapter = MatrixAdapter(bot_config(synapse, bot))
    await adapter.start(context(redis, keys))
    try:
        assert adapter.device_id == device
        receipt = await adapter.send(
            OutboundMessage(TargetId(f"matrix:{room}"), text, idempotency_key="delivery-77")
        )
    finally:
        await adapter.aclose()
    assert receipt.message_ids == (first[0]["event_id"],)
    assert len([e for e in await alice.messages(room) if e["content"]["body"] == text]) == 1
