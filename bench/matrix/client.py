"""The two sending clients of ``bench.matrix``, each run in its own child process.

    python -m bench.matrix --role palm --room '!r:localhost' --n 300 --concurrency 8 --tag t1
    python -m bench.matrix --role raw  ...

Both log in as the same account and device (the access token comes from the
environment, ``PALM_BENCH_HOMESERVER`` / ``PALM_BENCH_USER`` / ``PALM_BENCH_TOKEN``,
never argv), send ``warmup`` untimed messages, then ``n`` timed ones with
``concurrency`` tasks, and print one JSON line (``Outcome``) on stdout; logs go to stderr.

- ``palm``: ``MatrixAdapter.send`` with an ``OutboundMessage``: Markdown parsed and
  rendered per message, a deterministic transaction id, errors translated.
- ``raw``: ``nio.AsyncClient.room_send`` with the same content rendered once up front
  and nio's random transaction ids: what a hand-written nio bot would do.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import json
import os
import sys
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import asdict, dataclass
from typing import Any

import nio
from pydantic import SecretStr
from redis.asyncio import Redis

from adapters.matrix import MatrixAdapter
from adapters.matrix.render import text_content
from bench.common import Stopwatch, percentile
from gateway.adapter import AdapterContext
from gateway.config import MatrixConfig
from gateway.inbound import RedisInboundSink
from gateway.keys import Keys
from gateway.models import OutboundMessage, TargetId

TEXT = (
    "**Water off** in building 3 on *Saturday* from 09:00 to 12:00.\n\n"
    "- fill a kettle before 09:00\n- the lifts keep working\n\n"
    "Details: [notice board](https://example.org/notices/42)"
)
"""A typical announcement: a little Markdown, a list and a link, rendered every send."""


def body_text(tag: str, role: str, i: int | str) -> str:
    """The message text; ``marker`` in it lets the verifier count each message."""
    return f"{TEXT}\n\n{marker(tag, role, i)}"


def marker(tag: str, role: str, i: int | str) -> str:
    return f"bench:{tag}:{role}:{i}"


Send = Callable[[int | str], Awaitable[None]]


def raw_content(tag: str) -> Callable[[int | str], dict[str, Any]]:
    """The raw client's message ``i``: the same content as palm sends, rendered once
    up front (the raw client pays no rendering), with its marker appended."""
    base = text_content(OutboundMessage(TargetId("matrix:x"), TEXT, "x"))

    def content(i: int | str) -> dict[str, Any]:
        mark = marker(tag, "raw", i)
        return {
            **base,
            "body": f"{base['body']}\n\n{mark}",
            "formatted_body": f"{base['formatted_body']}<p>{mark}</p>",
        }

    return content


@dataclass(frozen=True, slots=True)
class Outcome:
    role: str
    n: int
    concurrency: int
    sent: int
    errors: int
    first_error: str | None
    elapsed: float
    sends_per_s: float
    p50_ms: float
    p99_ms: float
    cpu_s: float
    """CPU time of the client process over the timed sends (user + system)."""


async def _drive(
    send: Send, n: int, concurrency: int
) -> tuple[list[float], list[str], float, float]:
    """``n`` sends by ``concurrency`` tasks taking the next index from one iterator.

    Returns the latencies, the failures, the wall time and this process's CPU time: with
    Synapse the bottleneck, CPU per send is what shows a client's own overhead.
    """
    todo: Iterator[int] = iter(range(n))
    latencies: list[float] = []
    failures: list[str] = []

    async def worker() -> None:
        for i in todo:  # shared: each index is taken by exactly one worker
            t0 = time.perf_counter()
            try:
                await send(i)
            except Exception as exc:  # a bench counts failures; the verifier shows them
                failures.append(f"{type(exc).__name__}: {exc}")
            else:
                latencies.append(time.perf_counter() - t0)

    cpu = time.process_time()
    with Stopwatch() as sw:
        async with asyncio.TaskGroup() as tg:
            for _ in range(concurrency):
                tg.create_task(worker())
    return latencies, failures, sw.elapsed, time.process_time() - cpu


async def _palm(args: argparse.Namespace, env: dict[str, str]) -> tuple[Send, Callable[[], Any]]:
    config = MatrixConfig(
        homeserver=env["PALM_BENCH_HOMESERVER"],
        user_id=env["PALM_BENCH_USER"],
        access_token=SecretStr(env["PALM_BENCH_TOKEN"]),
    )
    # An access-token login reads and writes nothing in Redis, and sending never does:
    # the client is only there because AdapterContext needs one (it never connects).
    redis = Redis.from_url(env.get("PALM_REDIS_URL", "redis://127.0.0.1:6379/0"))
    keys = Keys(f"palm-bench:{args.tag}:")
    adapter = MatrixAdapter(config)
    await adapter.start(AdapterContext(redis, keys, RedisInboundSink(redis, keys), "bench"))
    target = TargetId(f"matrix:{args.room}")

    async def send(i: int | str) -> None:
        await adapter.send(
            OutboundMessage(target, body_text(args.tag, "palm", i), f"bench:{args.tag}:{i}")
        )

    async def close() -> None:
        await adapter.aclose()
        await redis.aclose()

    return send, close


async def _raw(args: argparse.Namespace, env: dict[str, str]) -> tuple[Send, Callable[[], Any]]:
    client = nio.AsyncClient(
        env["PALM_BENCH_HOMESERVER"],
        env["PALM_BENCH_USER"],
        config=nio.AsyncClientConfig(encryption_enabled=False, store_sync_tokens=False),
    )
    client.access_token = env["PALM_BENCH_TOKEN"]
    who = await client.whoami()
    if not isinstance(who, nio.WhoamiResponse):
        raise SystemExit(f"raw client: token rejected: {who}")
    client.restore_login(env["PALM_BENCH_USER"], who.device_id or "", env["PALM_BENCH_TOKEN"])
    content = raw_content(args.tag)

    async def send(i: int | str) -> None:
        resp = await client.room_send(args.room, "m.room.message", content(i))
        if not isinstance(resp, nio.RoomSendResponse):
            raise RuntimeError(f"room_send: {resp}")

    async def close() -> None:
        await client.close()

    return send, close


async def run(args: argparse.Namespace) -> Outcome:
    env = dict(os.environ)
    if args.encrypted:
        from bench.matrix import encrypted

        if args.role == "palm":
            send, close = await encrypted.palm(args, env, body_text)
        else:
            send, close = await encrypted.raw(args, env, raw_content(args.tag))
    else:
        make = _palm if args.role == "palm" else _raw
        send, close = await make(args, env)
    try:
        for w in range(args.warmup):  # untimed: opens the connections, warms the caches
            await send(f"warmup{w}")
        profiler = cProfile.Profile() if args.profile_to else None
        if profiler:
            profiler.enable()
        latencies, failures, elapsed, cpu = await _drive(send, args.n, args.concurrency)
        if profiler:
            profiler.disable()
            profiler.dump_stats(args.profile_to)
    finally:
        await close()
    ms = [x * 1000 for x in latencies]
    return Outcome(
        role=args.role,
        n=args.n,
        concurrency=args.concurrency,
        sent=len(latencies),
        errors=len(failures),
        first_error=failures[0] if failures else None,
        elapsed=elapsed,
        sends_per_s=len(latencies) / elapsed if elapsed else 0.0,
        p50_ms=percentile(ms, 50),
        p99_ms=percentile(ms, 99),
        cpu_s=cpu,
    )


def main(args: argparse.Namespace) -> None:
    outcome = asyncio.run(run(args))
    sys.stdout.write(json.dumps(asdict(outcome)) + "\n")
