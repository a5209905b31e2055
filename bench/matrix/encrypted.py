"""``bench.matrix --encrypted``: the same comparison in an end-to-end encrypted room.

Each child logs in as a new device of the bench bot (password from the environment,
``PALM_BENCH_PASSWORD``) with its own crypto store in a temporary directory:

- ``palm``: ``MatrixAdapter`` with ``e2e`` on, running (it takes the device lease and
  syncs, as in production), then ``MatrixAdapter.send``: encrypted, Megolm session
  shared with the room's devices, deterministic transaction ids.
- ``raw``: a hand-written matrix-nio[e2e] bot: one full sync to learn the room, then
  ``room_send(..., ignore_unverified_devices=True)`` while it keeps syncing (1 s
  long-poll) as a working e2e bot must, and as palm's owner does.

The verifier (``Reader``) is a second account with its own device in every room,
syncing all along: it gets the room keys and decrypts what ``/messages`` returns.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import nio
from pydantic import SecretStr
from redis.asyncio import Redis

from adapters.matrix import MatrixAdapter
from gateway.adapter import AdapterContext
from gateway.config import MatrixConfig, MatrixE2EConfig
from gateway.inbound import RedisInboundSink
from gateway.keys import Keys
from gateway.models import OutboundMessage, TargetId
from tests.fakes.synapse import User
from tests.matrix.resident import Resident, resident

Send = Callable[[int | str], Any]


def _client(homeserver: str, user: str, store: str) -> nio.AsyncClient:
    cfg = nio.AsyncClientConfig(encryption_enabled=True, store_sync_tokens=False)
    return nio.AsyncClient(homeserver, user, store_path=store, config=cfg)


async def palm(
    args: argparse.Namespace, env: dict[str, str], body: Callable[[str, str, int | str], str]
) -> tuple[Send, Callable[[], Any]]:
    store = tempfile.mkdtemp(prefix="palm-bench-e2e-")
    config = MatrixConfig(
        homeserver=env["PALM_BENCH_HOMESERVER"],
        user_id=env["PALM_BENCH_USER"],
        password=SecretStr(env["PALM_BENCH_PASSWORD"]),
        auto_join="any",
        sync_timeout_ms=1000,
        e2e=MatrixE2EConfig(store_dir=Path(store), owner_lease_seconds=10),
    )
    redis = Redis.from_url(env.get("PALM_REDIS_URL", "redis://127.0.0.1:6379/0"))
    keys = Keys(f"palm-bench:{args.tag}:")
    adapter = MatrixAdapter(config)
    await adapter.start(AdapterContext(redis, keys, RedisInboundSink(redis, keys), "bench"))
    runner = asyncio.create_task(adapter.run())
    target = TargetId(f"matrix:{args.room}")
    deadline = time.monotonic() + 60
    # Owner, and the room's encryption known from palm's own sync (as in production).
    while not (adapter.owns() and await adapter.needs_owner(target)):
        if time.monotonic() > deadline or runner.done():
            raise SystemExit("palm e2e child: never became the owner of an encrypted room")
        await asyncio.sleep(0.1)

    async def send(i: int | str) -> None:
        await adapter.send(
            OutboundMessage(target, body(args.tag, "palm", i), f"bench:{args.tag}:{i}")
        )

    async def close() -> None:
        runner.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await runner
        await adapter.aclose()
        async for key in redis.scan_iter(match=f"{keys.prefix}*"):
            await redis.delete(key)
        await redis.aclose()

    return send, close


async def raw(
    args: argparse.Namespace, env: dict[str, str], content: Callable[[int | str], dict[str, Any]]
) -> tuple[Send, Callable[[], Any]]:
    store = tempfile.mkdtemp(prefix="raw-bench-e2e-")
    client = _client(env["PALM_BENCH_HOMESERVER"], env["PALM_BENCH_USER"], store)
    login = await client.login(env["PALM_BENCH_PASSWORD"], device_name="raw-bench")
    if not isinstance(login, nio.LoginResponse):
        raise SystemExit(f"raw e2e child: login failed: {login}")
    await client.keys_upload()
    await client.sync(timeout=0, full_state=True)
    # A working e2e bot keeps syncing (room keys, new devices and members arrive that
    # way), as palm's owner does: both pay for it during the run.
    syncing = asyncio.create_task(_sync_forever(client))

    async def send(i: int | str) -> None:
        resp = await client.room_send(
            args.room, "m.room.message", content(i), ignore_unverified_devices=True
        )
        if not isinstance(resp, nio.RoomSendResponse):
            raise RuntimeError(f"room_send: {resp}")

    async def close() -> None:
        syncing.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await syncing
        await client.close()

    return send, close


async def _sync_forever(client: nio.AsyncClient) -> None:
    """nio's usual loop (what ``sync_forever`` does), with palm's 1 s long-poll."""
    while True:
        await client.sync(timeout=1000)
        if client.should_upload_keys:
            await client.keys_upload()
        if client.should_query_keys:
            await client.keys_query()
        if client.should_claim_keys:
            await client.keys_claim(client.get_users_for_key_claiming())
        await client.send_to_device_messages()


class Reader:
    """The verifying account's own device, syncing all along in a thread of its own
    (as a resident's phone does), so room keys reach it as they are shared."""

    def __init__(self, homeserver: str, reader: User) -> None:
        self._homeserver, self._reader = homeserver, reader
        self._store = Path(tempfile.mkdtemp(prefix="reader-bench-e2e-"))
        self._loop: asyncio.AbstractEventLoop | None = None
        self._resident: Resident | None = None
        self._ready = threading.Event()
        self._stop: asyncio.Event | None = None
        self._thread = threading.Thread(target=lambda: asyncio.run(self._main()), daemon=True)

    def start(self) -> None:
        self._thread.start()
        if not self._ready.wait(60):
            raise SystemExit("bench reader: no login within 60 s")

    def stop(self) -> None:
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(30)

    async def _main(self) -> None:
        self._loop, self._stop = asyncio.get_running_loop(), asyncio.Event()
        async with resident(self._homeserver, self._reader, self._store) as res:
            self._resident = res
            self._ready.set()
            await self._stop.wait()

    async def bodies(self, room: str, settle: float = 20.0) -> list[str]:
        """Every message body in ``room``, decrypted; one still undecryptable after
        ``settle`` seconds (its key never came) is ``""``."""
        assert self._loop is not None
        deadline = time.monotonic() + settle
        while True:
            fut = asyncio.run_coroutine_threadsafe(self._read(room), self._loop)
            found = await asyncio.wrap_future(fut)
            if "" not in found or time.monotonic() > deadline:
                return found
            await asyncio.sleep(1.0)

    async def _read(self, room: str) -> list[str]:
        assert self._resident is not None
        client = self._resident.client
        out: list[str] = []
        token = ""
        while True:
            page = await client.room_messages(room, start=token, limit=100)
            if not isinstance(page, nio.RoomMessagesResponse) or not page.chunk:
                break
            for ev in page.chunk:
                if isinstance(ev, nio.MegolmEvent):
                    out.append("")  # its key has not come (yet)
                elif isinstance(ev, nio.RoomMessageText):
                    out.append(ev.body)
            if not page.end or page.end == token:
                break
            token = page.end
        return out
