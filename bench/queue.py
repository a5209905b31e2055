"""``bench.queue``: the staff queue API and palm's memory with a big directory.

    .venv/bin/python -m bench.queue                    # ~2 min (most of it building)
    .venv/bin/python -m bench.queue --tickets 20000 --targets 20000   # a quick look

Peers, each its own process: a private redis-server (AOF everysec), the fake Bot API
(getMe only), one ``palm run``, and the HTTP client (``--role client``).

Set-up: ``--tickets`` open tickets made through ``TicketStore.apply`` (the funnel's own
Lua, as ``bench.funnel`` builds them; one in ten urgent) and ``--targets`` active
targets (pipelined, the directory's layout). Then ``palm run`` starts on that Redis.

Figures: the latency of ``GET /api/v1/tickets`` (first page, the default 50) over HTTP
from a separate process, ``--requests`` sequential requests after a warm-up: p50 and
p99 (goal p99 <= 10 ms), next to ``GET /healthz`` from the same client (the HTTP
floor, same run) and ``TicketStore.list`` called directly on Redis (the store floor);
and ``palm run``'s resident memory (goal <= 150 MB) after start and after the requests.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import subprocess
import sys
import time
from typing import Any

from redis.asyncio import Redis

from bench.common import Ratio, machine, percentile, write_result
from bench.procs import PREFIX, ROOT, Procs, make_token, seed_targets
from bench.tickets import apply_open_tickets
from gateway.config import GatewayConfig, RedisConfig
from gateway.funnel.tickets import TicketStore
from gateway.keys import Keys
from gateway.runtime import Runtime, instance_name

GOAL_P99_MS = 10.0
GOAL_RSS_MB = 150.0


async def build_tickets(url: str, n: int) -> tuple[float, list[float]]:
    """``n`` open tickets through the funnel's store; returns (seconds, direct list ms)."""
    keys = Keys(PREFIX)
    config = GatewayConfig(redis=RedisConfig(url=url, prefix=PREFIX))
    redis = Redis.from_url(url, decode_responses=True)
    binary = Redis.from_url(url)
    rt = Runtime(config, redis, binary, keys, instance_name())
    store = TicketStore(rt.redis, rt.keys)
    built = await apply_open_tickets(rt, n)
    direct: list[float] = []
    for _ in range(200):
        t = time.perf_counter()
        await store.list(limit=50)
        direct.append(1000 * (time.perf_counter() - t))
    await redis.aclose()
    await binary.aclose()
    return built, direct


async def client(base: str, token: str, n: int) -> dict[str, Any]:
    import aiohttp

    headers = {"Authorization": f"Bearer {token}"}
    out: dict[str, Any] = {}
    async with aiohttp.ClientSession() as s:
        for label, path, hdrs in (
            ("tickets", "/api/v1/tickets", headers),
            ("healthz", "/healthz", {}),
        ):
            lat: list[float] = []
            count = 0
            for i in range(n + 50):
                t = time.perf_counter()
                async with s.get(base + path, headers=hdrs) as resp:
                    body = await resp.read()
                    if resp.status != 200:
                        raise SystemExit(f"{path}: {resp.status} {body[:200]!r}")
                if i >= 50:  # warm-up
                    lat.append(1000 * (time.perf_counter() - t))
                if label == "tickets":
                    count = len(json.loads(body).get("tickets", []))
            out[label] = {
                "p50_ms": percentile(lat, 50),
                "p99_ms": percentile(lat, 99),
                "max_ms": max(lat),
                "n": len(lat),
                "items": count,
            }
    return out


def main() -> None:
    p = argparse.ArgumentParser(prog="python -m bench.queue", description=__doc__)
    p.add_argument("--tickets", type=int, default=100_000)
    p.add_argument("--targets", type=int, default=100_000)
    p.add_argument("--requests", type=int, default=1000)
    p.add_argument("--role", choices=("client",), help=argparse.SUPPRESS)
    p.add_argument("--base", help=argparse.SUPPRESS)
    p.add_argument("--token", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.role == "client":
        print(json.dumps(asyncio.run(client(args.base, args.token, args.requests))))
        return
    started = time.monotonic()
    info = machine()
    print(f"bench.queue on {info.cpu_model}, {info.cores} cores, Python {info.python}")
    with Procs() as procs:
        url = procs.redis()
        fake = procs.fake(limits=False)
        built, direct = asyncio.run(build_tickets(url, args.tickets))
        print(f"built {args.tickets} open tickets in {built:.0f} s", flush=True)
        seed_targets(
            url,
            [(f"telegram:{-1_003_000_000_000 - i}", "group") for i in range(args.targets)],
            ["benchq"],
        )
        print(f"registered {args.targets} targets", flush=True)
        palm = procs.start_palm(procs.palm_config("palm-queue", fake))
        procs.wait_ready([palm])
        time.sleep(3)  # start-up work (stats gauges, first scrapes) settles
        rss_start = palm.rss_mb()
        token = make_token(url, "viewer")
        cmd = [
            sys.executable,
            "-m",
            "bench.queue",
            "--role",
            "client",
            "--base",
            palm.base,
            "--token",
            token,
            "--requests",
            str(args.requests),
        ]
        proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=600)
        if proc.returncode != 0:
            raise SystemExit(f"client failed:\n{proc.stderr[-2000:]}")
        res = json.loads(proc.stdout.strip().splitlines()[-1])
        rss_end = palm.rss_mb()
    t, h = res["tickets"], res["healthz"]
    d50, d99 = percentile(direct, 50), percentile(direct, 99)
    print(
        f"  GET /api/v1/tickets ({t['items']} per page): p50 {t['p50_ms']:.2f} ms  "
        f"p99 {t['p99_ms']:.2f} ms  max {t['max_ms']:.1f} ms  ({t['n']} requests)"
    )
    print(f"  GET /healthz (HTTP floor):      p50 {h['p50_ms']:.2f} ms  p99 {h['p99_ms']:.2f} ms")
    print(f"  TicketStore.list direct (store floor): p50 {d50:.2f} ms  p99 {d99:.2f} ms")
    print(f"  palm run RSS: {rss_start:.0f} MB after start, {rss_end:.0f} MB after the requests")
    ratios = [
        Ratio(
            "p99 first page GET /api/v1/tickets vs goal 10 ms",
            t["p99_ms"],
            GOAL_P99_MS,
            1.0,
            "ms",
            higher_is_better=False,
            notes={"healthz_p99_ms": h["p99_ms"], "store_p99_ms": d99},
        ),
        Ratio(
            "palm run RSS vs goal 150 MB",
            max(rss_start, rss_end),
            GOAL_RSS_MB,
            1.0,
            "MB",
            higher_is_better=False,
        ),
    ]
    print()
    for ratio in ratios:
        print(ratio.line())
    path = write_result(
        "queue",
        {
            "params": {k: v for k, v in vars(args).items() if k not in ("role", "token", "base")},
            "build_s": built,
            "http": res,
            "store_direct": {"p50_ms": d50, "p99_ms": d99},
            "rss_mb": {"start": rss_start, "end": rss_end},
            "ratios": [x.to_json() for x in ratios],
            "wall_s": time.monotonic() - started,
        },
    )
    print(f"wrote {path} ({time.monotonic() - started:.0f} s)")


if __name__ == "__main__":
    main()
