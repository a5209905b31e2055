"""``bench.scope``: what a scope costs on the queue's reads.

    .venv/bin/python -m bench.scope                      # ~1-2 min
    .venv/bin/python -m bench.scope --tickets 5000       # a quick look

Peer: a private redis-server (its own process). Set-up: ``--compounds`` compounds of
``--buildings`` buildings with one group chat each, ``--tickets`` open tickets spread
evenly over the chats (the funnel's own Lua), one in ten urgent.

Each chat gets ten tickets in a row, one of them urgent. Figures, each the p50/p99 of
``--requests`` sequential calls, in this process:
- the first page (50) of tickets: ``TicketStore.list`` unscoped (the baseline) against
  ``views.list_tickets`` with the scope ``compound:c0`` (1/compounds of the tickets)
  and ``building:c0-0`` (1/(compounds*buildings));
- queue stats: ``queue_stats`` (counters; the baseline) against ``scoped_queue_stats``
  for ``compound:c0``, which reads the open indexes (it has no counters to read).
Goals: a scoped first page at most 3x the unscoped one (same run), and within 10 ms
p99 (the queue API's goal, met on a quiet machine only). The scoped stats are
reported with no goal: they read the category of every open ticket in the scope.
"""

from __future__ import annotations

import argparse
import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

from redis.asyncio import Redis

from bench.common import Ratio, machine, percentile, write_result
from bench.procs import PREFIX, Procs, seed_targets
from bench.tickets import apply_open_tickets
from gateway.accounts import Scope, views
from gateway.config import GatewayConfig, RedisConfig
from gateway.funnel.stats import queue_stats
from gateway.funnel.tickets import TicketStore
from gateway.keys import Keys
from gateway.runtime import Runtime, instance_name

GOAL_P99_MS = 10.0
GOAL_RATIO = 3.0  # a scoped first page costs at most 3x an unscoped one


def chats(compounds: int, buildings: int) -> list[tuple[str, list[str]]]:
    return [
        (f"telegram:-{1_000_000 + c * 1000 + b}", [f"compound:c{c}", f"building:c{c}-{b}"])
        for c in range(compounds)
        for b in range(buildings)
    ]


async def timed(call: Callable[[], Awaitable[Any]], n: int) -> dict[str, float]:
    for _ in range(20):  # warm-up
        await call()
    lat = []
    for _ in range(n):
        t = time.perf_counter()
        await call()
        lat.append(1000 * (time.perf_counter() - t))
    return {"p50_ms": percentile(lat, 50), "p99_ms": percentile(lat, 99)}


async def measure(url: str, args: argparse.Namespace) -> dict[str, Any]:
    config = GatewayConfig(redis=RedisConfig(url=url, prefix=PREFIX))
    redis = Redis.from_url(url, decode_responses=True)
    binary = Redis.from_url(url)
    rt = Runtime(config, redis, binary, Keys(PREFIX), instance_name())
    try:
        layout = chats(args.compounds, args.buildings)
        for target, tags in layout:
            seed_targets(url, [(target, "group")], tags)
        built = await apply_open_tickets(rt, args.tickets, [t for t, _ in layout])
        print(f"built {args.tickets} open tickets over {len(layout)} chats in {built:.0f} s")
        store = TicketStore(rt.redis, rt.keys)
        compound, building = Scope.parse("compound:c0"), Scope.parse("building:c0-0")
        out = {
            "page_unscoped": await timed(lambda: store.list(limit=50), args.requests),
            "page_compound": await timed(
                lambda: views.list_tickets(rt, compound, limit=50), args.requests
            ),
            "page_building": await timed(
                lambda: views.list_tickets(rt, building, limit=50), args.requests
            ),
            "stats_unscoped": await timed(lambda: queue_stats(rt), args.requests),
            "stats_compound": await timed(
                lambda: views.scoped_queue_stats(rt, compound), max(10, args.requests // 10)
            ),
            "build_s": built,
        }
        return out
    finally:
        await redis.aclose()
        await binary.aclose()


def main() -> None:
    p = argparse.ArgumentParser(prog="python -m bench.scope", description=__doc__)
    p.add_argument("--tickets", type=int, default=20_000)
    p.add_argument("--compounds", type=int, default=10)
    p.add_argument("--buildings", type=int, default=10)
    p.add_argument("--requests", type=int, default=300)
    args = p.parse_args()
    started = time.monotonic()
    info = machine()
    print(f"bench.scope on {info.cpu_model}, {info.cores} cores, Python {info.python}")
    with Procs() as procs:
        res = asyncio.run(measure(procs.redis(), args))
    for name in ("page_unscoped", "page_compound", "page_building", "stats_unscoped",
                 "stats_compound"):  # fmt: skip
        r = res[name]
        print(f"  {name:15} p50 {r['p50_ms']:7.2f} ms  p99 {r['p99_ms']:7.2f} ms")
    base = res["page_unscoped"]["p99_ms"]
    ratios = []
    for label, key in (("compound", "page_compound"), ("building", "page_building")):
        p99 = res[key]["p99_ms"]
        ratios += [
            Ratio(f"p99 first page, scope {label}, vs unscoped (same run)", p99, base,
                  GOAL_RATIO, "ms", higher_is_better=False),
            Ratio(f"p99 first page, scope {label}, vs goal 10 ms", p99, GOAL_P99_MS, 1.0,
                  "ms", higher_is_better=False),
        ]  # fmt: skip
    stats = res["stats_compound"]
    print(f"  (informational) scoped queue stats, compound: p50 {stats['p50_ms']:.1f} ms, "
          f"p99 {stats['p99_ms']:.1f} ms; unscoped counters p99 "
          f"{res['stats_unscoped']['p99_ms']:.2f} ms")  # fmt: skip
    print()
    for ratio in ratios:
        print(ratio.line())
    path = write_result(
        "scope",
        {"params": vars(args), "results": res, "ratios": [x.to_json() for x in ratios],
         "wall_s": time.monotonic() - started},
    )  # fmt: skip
    print(f"wrote {path} ({time.monotonic() - started:.0f} s)")


if __name__ == "__main__":
    main()
