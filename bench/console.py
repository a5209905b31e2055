"""``bench.console``: the web console's queue page and live stream with 100k open tickets.

    .venv/bin/python -m bench.console                       # ~3 min (most of it building)
    .venv/bin/python -m bench.console --tickets 10000 --seconds 10     # a quick look

Peers, each its own process: a private redis-server (AOF everysec), the fake Bot API
(limits off), one ``palm run``, the measuring client (``--role client``) and the flood
generator (``--role flood``).

Set-up: ``--tickets`` open tickets through the funnel's own store (as ``bench.queue``
builds them), a staff account, then ``palm run`` on that Redis.

Figures:
1. the queue page (``GET /console/``, open tickets: new and claimed merged, 50 rows,
   rendered) as the signed-in client sees it over loopback HTTP, ``--requests`` in a row
   after a warm-up: p50 and p95 (goal p95 <= 50 ms), next to ``GET /healthz`` from the
   same client (the HTTP floor, same run);
2. the delay from an inbound update (enqueued at the fake Bot API with its time in the
   text, each from a new resident so each opens a ticket) to its row arriving on an open
   ``/console/events`` stream, under a flood of ``--rate`` updates per second for
   ``--seconds``: p50, p99 (goal p99 <= 1 s), and how many arrived.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import subprocess
import sys
import time
from typing import Any

from bench.common import Ratio, machine, percentile, write_result
from bench.procs import PREFIX, ROOT, Procs

GOAL_PAGE_P95_MS = 50.0
GOAL_SSE_P99_S = 1.0
PASSWORD = "bench password 1"
_CSRF = re.compile(r'name="csrf" value="([^"]+)"')
_STAMP = re.compile(r"bench update (\d+) @([0-9.]+)")


def make_user(url: str) -> None:
    from redis.asyncio import Redis

    from gateway.accounts import Role, UserStore
    from gateway.keys import Keys

    async def go() -> None:
        redis = Redis.from_url(url, decode_responses=True)
        await UserStore(redis, Keys(PREFIX)).create("bench", Role.STAFF, PASSWORD)
        await redis.aclose()

    asyncio.run(go())


async def _sign_in(s: Any, base: str) -> None:
    page = await (await s.get(base + "/console/signin")).text()
    m = _CSRF.search(page)
    assert m is not None
    form = {"csrf": m.group(1), "name": "bench", "password": PASSWORD}
    async with s.post(base + "/console/signin", data=form, allow_redirects=False) as r:
        if r.status != 302:
            raise SystemExit(f"sign-in failed: {r.status}")


async def _latencies(s: Any, url: str, n: int) -> dict[str, float]:
    lat: list[float] = []
    for i in range(n + 30):
        t = time.perf_counter()
        async with s.get(url) as resp:
            body = await resp.read()
            if resp.status != 200:
                raise SystemExit(f"{url}: {resp.status} {body[:200]!r}")
        if i >= 30:  # warm-up
            lat.append(1000 * (time.perf_counter() - t))
    return {"p50_ms": percentile(lat, 50), "p95_ms": percentile(lat, 95),
            "p99_ms": percentile(lat, 99), "n": len(lat), "bytes": len(body)}  # fmt: skip


async def _stream(s: Any, base: str, expect: int, limit: float) -> dict[str, Any]:
    delays: list[float] = []
    published: list[float] = []  # enqueue -> the console event's stream id (its XADD time)
    seen: set[int] = set()
    event_ms = 0.0
    deadline = time.monotonic() + limit
    async with s.get(base + "/console/events?topic=queue", timeout=None) as r:
        print("ready", flush=True)
        while len(seen) < expect and time.monotonic() < deadline:
            try:
                raw = await asyncio.wait_for(
                    r.content.readline(), max(0.1, deadline - time.monotonic())
                )
            except TimeoutError:
                break
            line = raw.decode()
            if line.startswith("id: "):
                event_ms = float(line[4:].split("-")[0])
            if not line.startswith("data: "):
                continue
            got = time.time()
            row = json.loads(line[6:])
            m = _STAMP.search(row.get("html", ""))
            if m and int(m.group(1)) not in seen:
                seen.add(int(m.group(1)))
                delays.append(got - float(m.group(2)))
                published.append(event_ms / 1000 - float(m.group(2)))
    return {"arrived": len(seen), "p50_s": percentile(delays, 50) if delays else None,
            "p99_s": percentile(delays, 99) if delays else None,
            "max_s": max(delays) if delays else None,
            "to_publish_p50_s": percentile(published, 50) if published else None,
            "to_publish_p99_s": percentile(published, 99) if published else None}  # fmt: skip


async def client(base: str, requests: int, expect: int, limit: float) -> dict[str, Any]:
    import aiohttp

    out: dict[str, Any] = {}
    # unsafe=True: keep cookies from an IP address host (127.0.0.1)
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as s:
        await _sign_in(s, base)
        out["queue_page"] = await _latencies(s, base + "/console/", requests)
        out["healthz"] = await _latencies(s, base + "/healthz", requests)
        out["stream"] = await _stream(s, base, expect, limit)
    return out


def flood(control: str, rate: int, seconds: float) -> None:
    """``rate`` updates a second in batches every 0.1 s, each from a new resident."""
    import urllib.request

    per_tick = max(1, rate // 10)
    sent = 0
    start = time.monotonic()
    while time.monotonic() - start < seconds:
        url = f"{control}/enqueue?n={per_tick}&first={sent}&users=100000000&stamp=1"
        urllib.request.urlopen(urllib.request.Request(url, data=b"", method="POST"), timeout=30)
        sent += per_tick
        time.sleep(max(0.0, start + sent / rate - time.monotonic()))
    print(json.dumps({"sent": sent}))


def _spawn(role: str, *args: str) -> subprocess.Popen[str]:
    cmd = [sys.executable, "-m", "bench.console", "--role", role, *args]
    return subprocess.Popen(
        cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def _run(args: argparse.Namespace) -> dict[str, Any]:
    from bench.queue import build_tickets

    with Procs() as procs:
        url = procs.redis()
        fake = procs.fake(limits=False)
        built, _ = asyncio.run(build_tickets(url, args.tickets))
        print(f"built {args.tickets} open tickets in {built:.0f} s", flush=True)
        make_user(url)
        palm = procs.start_palm(procs.palm_config("palm-console", fake))
        procs.wait_ready([palm])
        time.sleep(3)
        expect = int(args.rate * args.seconds)
        reader = _spawn("client", "--base", palm.base, "--requests", str(args.requests),
                        "--expect", str(expect), "--seconds", str(args.seconds))  # fmt: skip
        assert reader.stdout is not None
        if reader.stdout.readline().strip() != "ready":
            raise SystemExit(f"client failed:\n{reader.stderr.read() if reader.stderr else ''}")
        gen = _spawn("flood", "--control", fake.control, "--rate", str(args.rate),
                     "--seconds", str(args.seconds))  # fmt: skip
        gen_out, gen_err = gen.communicate(timeout=args.seconds + 120)
        out, err = reader.communicate(timeout=args.seconds + 180)
        if reader.returncode != 0 or gen.returncode != 0:
            raise SystemExit(f"peers failed:\n{err[-2000:]}\n{gen_err[-2000:]}")
        res = json.loads(out.strip().splitlines()[-1])
        res["flood"] = json.loads(gen_out.strip().splitlines()[-1])
        res["build_s"] = built
        res["palm_rss_mb"] = palm.rss_mb()
    return res


def main() -> None:
    p = argparse.ArgumentParser(prog="python -m bench.console", description=__doc__)
    p.add_argument("--tickets", type=int, default=100_000)
    p.add_argument("--requests", type=int, default=300)
    p.add_argument("--rate", type=int, default=200)
    p.add_argument("--seconds", type=float, default=30.0)
    p.add_argument("--role", choices=("client", "flood"), help=argparse.SUPPRESS)
    p.add_argument("--base", help=argparse.SUPPRESS)
    p.add_argument("--control", help=argparse.SUPPRESS)
    p.add_argument("--expect", type=int, default=0, help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.role == "client":
        limit = args.seconds + 60
        print(json.dumps(asyncio.run(client(args.base, args.requests, args.expect, limit))))
        return
    if args.role == "flood":
        flood(args.control, args.rate, args.seconds)
        return
    started = time.monotonic()
    info = machine()
    print(f"bench.console on {info.cpu_model}, {info.cores} cores, Python {info.python}")
    res = _run(args)
    q, h, st = res["queue_page"], res["healthz"], res["stream"]
    print(f"  GET /console/ (queue page, {q['bytes']} bytes): p50 {q['p50_ms']:.2f} ms  "
          f"p95 {q['p95_ms']:.2f} ms  p99 {q['p99_ms']:.2f} ms  ({q['n']} requests)")  # fmt: skip
    print(f"  GET /healthz (HTTP floor): p50 {h['p50_ms']:.2f} ms  p95 {h['p95_ms']:.2f} ms")
    print(f"  stream: {st['arrived']} of {res['flood']['sent']} updates arrived; delay p50 "
          f"{st['p50_s']:.3f} s  p99 {st['p99_s']:.3f} s  max {st['max_s']:.3f} s; of which "
          f"update -> event published p50 {st['to_publish_p50_s']:.3f} s "
          f"p99 {st['to_publish_p99_s']:.3f} s")  # fmt: skip
    ratios = [
        Ratio("p95 queue page vs goal 50 ms", q["p95_ms"], GOAL_PAGE_P95_MS, 1.0, "ms",
              higher_is_better=False, notes={"healthz_p95_ms": h["p95_ms"]}),
        Ratio(f"p99 inbound -> event stream under {args.rate}/s vs goal 1 s", st["p99_s"],
              GOAL_SSE_P99_S, 1.0, "s", higher_is_better=False,
              notes={"arrived": st["arrived"], "sent": res["flood"]["sent"]}),
    ]  # fmt: skip
    print()
    for ratio in ratios:
        print(ratio.line())
    path = write_result("console", {
        "params": {k: v for k, v in vars(args).items() if k not in ("role", "base", "control")},
        **res, "ratios": [x.to_json() for x in ratios], "wall_s": time.monotonic() - started,
    })  # fmt: skip
    print(f"wrote {path} ({time.monotonic() - started:.0f} s)")


if __name__ == "__main__":
    main()
