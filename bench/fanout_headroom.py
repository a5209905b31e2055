"""``bench.fanout_headroom``: palm's fan-out capacity with the fake's limits off.

    .venv/bin/python -m bench.fanout_headroom                # ~1 min
    .venv/bin/python -m bench.fanout_headroom --profile      # + one palm round under cProfile

Peers, each its own process: a private redis-server, the fake Bot API with limits off,
one ``palm run`` (``bench.palm_tuned`` with the bot-wide limit lifted to 1,000,000/s,
as a paid-broadcast bot would be; the per-chat and per-group rules and the shared
limiter's round trip stay in the path), and the baseline: a raw aiohttp client
(``--role raw``) posting ``sendMessage`` to the same fake at the same concurrency as
palm's outbox workers. Rounds alternate raw and palm (ABAB...).

Figures: deliveries/s between the first and the last arrival at the fake, palm vs
raw (goal ratio >= 0.6), and palm's absolute figure (goal >= 1,000/s on 2 cores).
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import pstats
import resource
import subprocess
import sys
import time
from typing import Any

from bench.common import RESULTS, Ratio, machine, write_result
from bench.fanout import PRIVATE_BASE, run_round, seed
from bench.procs import ROOT, Fake, Procs

GOAL_RATIO = 0.6
GOAL_ABS = 1000.0
LIFTED = {"BOT_PER_SECOND": 1_000_000, "BOT_SPREAD": False}


async def raw_client(base_url: str, token: str, n: int, concurrency: int) -> dict[str, Any]:
    """The baseline: ``n`` sendMessage POSTs with ``concurrency`` tasks, nothing else."""
    import aiohttp

    url = f"{base_url}{token}/sendMessage"
    next_i = iter(range(n))
    errors = 0

    async def worker(session: aiohttp.ClientSession) -> None:
        nonlocal errors
        for i in next_i:
            body = {
                "chat_id": PRIVATE_BASE + i,
                "text": "<b>Bench raw</b>: water off",
                "parse_mode": "HTML",
            }
            async with session.post(url, json=body) as resp:
                data = await resp.json()
                if not data.get("ok"):
                    errors += 1

    conn = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=conn) as session:
        started = time.perf_counter()
        await asyncio.gather(*(worker(session) for _ in range(concurrency)))
        elapsed = time.perf_counter() - started
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return {
        "sent": n - errors,
        "errors": errors,
        "elapsed": elapsed,
        "rate": (n - errors) / elapsed,
        "cpu_s": usage.ru_utime + usage.ru_stime,
    }


def run_raw(fake: Fake, n: int, concurrency: int) -> dict[str, Any]:
    fake.post("/reset")
    cmd = [
        sys.executable,
        "-m",
        "bench.fanout_headroom",
        "--role",
        "raw",
        "--base-url",
        fake.base_url,
        "--token",
        fake.tokens[0],
        "--n",
        str(n),
        "--workers",
        str(concurrency),
    ]
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=300, check=False)
    if proc.returncode != 0:
        raise SystemExit(f"raw client failed:\n{proc.stderr[-2000:]}")
    out: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    arrivals = sorted(fake.get("/arrivals")["times"])
    out["arrival_rate"] = (len(arrivals) - 1) / (arrivals[-1] - arrivals[0])
    return out


def top_of(path: str, n: int = 25) -> str:
    out = io.StringIO()
    stats = pstats.Stats(path, stream=out)
    stats.sort_stats("tottime").print_stats(n)
    stats.sort_stats("cumulative").print_stats(n)
    return out.getvalue()


def main() -> None:
    p = argparse.ArgumentParser(prog="python -m bench.fanout_headroom", description=__doc__)
    p.add_argument("--private", type=int, default=5000, help="private chats (default 5000)")
    p.add_argument("--groups", type=int, default=50)
    p.add_argument("--workers", type=int, default=16, help="palm outbox workers = raw tasks")
    p.add_argument("--rounds", type=int, default=2)
    p.add_argument("--profile", action="store_true", help="one more palm round under cProfile")
    p.add_argument("--role", choices=("raw",), help=argparse.SUPPRESS)
    p.add_argument("--base-url", help=argparse.SUPPRESS)
    p.add_argument("--token", help=argparse.SUPPRESS)
    p.add_argument("--n", type=int, default=0, help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.role == "raw":
        print(json.dumps(asyncio.run(raw_client(args.base_url, args.token, args.n, args.workers))))
        return
    started = time.monotonic()
    info = machine()
    print(f"bench.fanout_headroom on {info.cpu_model}, {info.cores} cores, Python {info.python}")
    raws: list[dict[str, Any]] = []
    palms: list[dict[str, Any]] = []
    profile = None
    with Procs() as procs:
        procs.redis()
        fake = procs.fake(limits=False)
        n = seed(procs, args.private, args.groups)
        print(f"{n} messages per round, concurrency {args.workers}, fake limits OFF")
        for r in range(args.rounds):
            raw = run_raw(fake, n, args.workers)
            raws.append(raw)
            print(
                f"  round {r} raw  {raw['arrival_rate']:8.1f} deliveries/s  "
                f"(client cpu {raw['cpu_s']:.1f} s, errors {raw['errors']})",
                flush=True,
            )
            rd = run_round(
                procs,
                fake,
                label=f"headroom{r}",
                n_total=n,
                processes=1,
                workers=args.workers,
                settings=LIFTED,
                timeout=300,
            )
            palms.append(rd.to_json())
            print(
                f"  round {r} palm {rd.rate:8.1f} deliveries/s  (palm cpu {rd.palm_cpu_s:.1f} s"
                f" = {1000 * rd.palm_cpu_s / max(rd.delivered, 1):.2f} ms/delivery, redis cpu "
                f"{rd.redis_cpu_s:.1f} s, counts {rd.api_counts})",
                flush=True,
            )
        if args.profile:
            RESULTS.mkdir(exist_ok=True)
            path = str(RESULTS / f"fanout_headroom-palm-{time.strftime('%Y%m%dT%H%M%S')}.prof")
            rd = run_round(
                procs,
                fake,
                label="profiled",
                n_total=n,
                processes=1,
                workers=args.workers,
                settings=LIFTED,
                timeout=600,
                profile_to=path,
            )
            time.sleep(1)
            profile = f"profile of one palm round ({rd.rate:.0f}/s under cProfile), {path}:\n"
            profile += top_of(path)
            print(profile)
    raw_rate = sum(x["arrival_rate"] for x in raws) / len(raws)
    palm_rate = sum(x["rate"] for x in palms) / len(palms)
    ratios = [
        Ratio(
            "palm deliveries/s vs raw aiohttp sendMessage",
            palm_rate,
            raw_rate,
            GOAL_RATIO,
            "deliveries/s",
        ),
        Ratio("palm deliveries/s vs the 1,000/s goal", palm_rate, GOAL_ABS, 1.0, "deliveries/s"),
    ]
    print()
    for ratio in ratios:
        print(ratio.line())
    path = write_result(
        "fanout_headroom",
        {
            "params": {k: v for k, v in vars(args).items() if k not in ("role", "token")},
            "raw": raws,
            "palm": palms,
            "ratios": [x.to_json() for x in ratios],
            "profile": profile,
            "wall_s": time.monotonic() - started,
        },
    )
    print(f"wrote {path} ({time.monotonic() - started:.0f} s)")


if __name__ == "__main__":
    main()
