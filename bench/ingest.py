"""``bench.ingest``: a flood of inbound Telegram updates into palm's durable queue.

    .venv/bin/python -m bench.ingest              # ~40 s; 3 rounds of flood + baseline
    .venv/bin/python -m bench.ingest --n 20000 --concurrency 32
    .venv/bin/python -m bench.ingest --profile    # palm under cProfile, top printed
    .venv/bin/python -m bench.ingest --mode polling   # the same flood through getUpdates
    .venv/bin/python -m bench.ingest --layout one     # one palm run instead of ingest + work

Peers, each its own process: a private redis-server (AOF everysec), the fake Bot API
(for getMe and the acknowledgements palm sends back; limits off), ``palm run`` in
webhook mode (``--layout split``, the default: ``palm run --role ingest`` takes the
webhooks and ``palm run --role work`` the funnel and the acknowledgements; ``--layout
one``: a single ``palm run`` does both), and the load generators:

* ``--role webhook``: ``concurrency`` tasks POST Telegram updates (private messages
  from ``--users`` residents, like Telegram's webhook with ``max_connections``) to
  palm's webhook with the secret header. palm answers 200 only once the update is
  durable in Redis (dedupe + XADD, one Lua call), so the POST's round trip bounds
  "receipt to durable entry" from above (it adds the localhost HTTP exchange).
* ``--role xadd`` (the baseline): the same number of raw redis-py ``XADD`` of a
  payload of the same size at the same concurrency, to the same redis-server.

With ``--mode polling`` palm long-polls the fake instead (``getUpdates``, up to 100
updates per answer); the flood is queued in the fake at once (its ``/enqueue``) and
timed until the fake has no unconfirmed update left, i.e. palm stored every batch and
confirmed it with the next poll. No per-update latency there: an update waits for its
batch's poll round.

Three phases: the flood (closed loop, ``concurrency`` in flight) and the baseline, in
alternation for ``--rounds`` pairs (the baseline alone moves by a third from run to run on
a 2-core machine; the round with the median ratio is reported), then a paced phase (open
loop at ``--paced-rate`` updates/s, well under saturation) for the latency a resident sees
when palm is not saturated. Goals: flood updates/s >= 0.5 of the baseline XADDs/s, and p99
receipt -> durable <= 5 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import subprocess
import sys
import time
from typing import Any

from redis import Redis as SyncRedis

from bench import http_load
from bench.common import RESULTS, Ratio, machine, percentile, write_result
from bench.procs import PREFIX, ROOT, Fake, Procs

GOAL_RATIO = 0.5
GOAL_P99_MS = 5.0
SECRET = "bench-secret"  # the one bench.procs writes into webhook configs


def update(i: int, users: int) -> dict[str, Any]:
    uid = 700_000_000 + i % users
    return {
        "update_id": 10_000_000 + i,
        "message": {
            "message_id": 1 + i,
            "date": int(time.time()),
            "chat": {"id": uid, "type": "private", "first_name": f"Resident{uid}"},
            "from": {
                "id": uid,
                "is_bot": False,
                "first_name": f"Resident{uid}",
                "language_code": "zh",
            },
            "text": f"楼道灯坏了 the stair light on floor {i % 30} is broken ({i})",
        },
    }


def _summary(lat: list[float], elapsed: float, errors: int, n: int) -> dict[str, Any]:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return {
        "n": n,
        "errors": errors,
        "elapsed": elapsed,
        "rate": (n - errors) / elapsed,
        "p50_ms": percentile(lat, 50),
        "p99_ms": percentile(lat, 99),
        "max_ms": max(lat, default=float("nan")),
        "cpu_s": usage.ru_utime + usage.ru_stime,
    }


async def load_webhook(
    url: str, n: int, start: int, users: int, concurrency: int, paced: float, client: str
) -> dict[str, Any]:
    import aiohttp

    bodies = [json.dumps(update(start + i, users)).encode() for i in range(n)]
    headers = {"X-Telegram-Bot-Api-Secret-Token": SECRET, "Content-Type": "application/json"}
    if client == "raw":
        target = http_load.Target(url, headers)
        requests = [target.request(b) for b in bodies]
        if paced:
            out = await http_load.paced(target, requests, paced)
        else:
            out = await http_load.flood(target, requests, concurrency)
        lat, errors, elapsed = out
        return _summary(lat, elapsed, errors, n)
    lat: list[float] = []
    errors = 0

    async def one(session: aiohttp.ClientSession, body: bytes) -> None:
        nonlocal errors
        t = time.perf_counter()
        async with session.post(url, data=body, headers=headers) as resp:
            await resp.read()
            if resp.status != 200:
                errors += 1
        lat.append(1000 * (time.perf_counter() - t))

    conn = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=conn) as session:
        started = time.perf_counter()
        if paced:
            tasks = []
            for i, body in enumerate(bodies):
                delay = started + i / paced - time.perf_counter()
                if delay > 0:
                    await asyncio.sleep(delay)
                tasks.append(asyncio.create_task(one(session, body)))
            await asyncio.gather(*tasks)
        else:
            it = iter(bodies)

            async def worker() -> None:
                for body in it:
                    await one(session, body)

            await asyncio.gather(*(worker() for _ in range(concurrency)))
        elapsed = time.perf_counter() - started
    return _summary(lat, elapsed, errors, n)


async def load_xadd(redis_url: str, n: int, users: int, concurrency: int) -> dict[str, Any]:
    from redis.asyncio import Redis

    client = Redis.from_url(redis_url, max_connections=concurrency)
    stream = PREFIX + "bench:xadd"
    payload = json.dumps(update(0, users))
    lat: list[float] = []
    it = iter(range(n))

    async def worker() -> None:
        for _ in it:
            t = time.perf_counter()
            await client.xadd(stream, {"e": payload})
            lat.append(1000 * (time.perf_counter() - t))

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    elapsed = time.perf_counter() - started
    await client.delete(stream)
    await client.aclose()
    return _summary(lat, elapsed, 0, n)


def child(role: str, target: str, n: int, args: argparse.Namespace, **kw: Any) -> dict[str, Any]:
    cmd = [
        sys.executable,
        "-m",
        "bench.ingest",
        "--role",
        role,
        "--target",
        target,
        "--n",
        str(n),
        "--users",
        str(args.users),
        "--concurrency",
        str(args.concurrency),
        "--client",
        args.client,
    ]
    for k, v in kw.items():
        cmd += [f"--{k.replace('_', '-')}", str(v)]
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=600, check=False)
    if proc.returncode != 0:
        raise SystemExit(f"{role} load failed:\n{proc.stderr[-2000:]}")
    return dict(json.loads(proc.stdout.strip().splitlines()[-1]))


def stored(redis_url: str) -> int:
    """Updates palm took durably: its dedupe keys (one per accepted platform message)."""
    r = SyncRedis.from_url(redis_url)
    n = sum(1 for _ in r.scan_iter(match=PREFIX + "inbound:seen:*", count=5000))
    r.close()
    return n


def line(label: str, s: dict[str, Any]) -> str:
    return (
        f"  {label:<28} {s['rate']:8.0f} /s  p50 {s['p50_ms']:6.2f} ms  p99 {s['p99_ms']:6.2f} ms"
        f"  max {s['max_ms']:6.1f} ms  errors {s['errors']}  load cpu {s['cpu_s']:.1f} s"
    )


def main() -> None:
    p = argparse.ArgumentParser(prog="python -m bench.ingest", description=__doc__)
    p.add_argument("--n", type=int, default=10_000, help="updates in the flood (default 10000)")
    p.add_argument("--concurrency", type=int, default=16)
    p.add_argument(
        "--rounds", type=int, default=3,
        help="flood + baseline pairs in alternation; the median round's ratio counts (default 3)",
    )  # fmt: skip
    p.add_argument("--users", type=int, default=500, help="distinct residents writing")
    p.add_argument("--paced-rate", type=float, default=300.0, help="open-loop updates/s")
    p.add_argument("--paced-n", type=int, default=3000)
    p.add_argument("--profile", action="store_true", help="run palm under cProfile")
    p.add_argument("--mode", choices=("webhook", "polling"), default="webhook")
    p.add_argument(
        "--layout",
        choices=("split", "one"),
        default="split",
        help="split: palm run --role ingest + --role work (default); one: a single palm run",
    )
    p.add_argument(
        "--work-nice",
        type=int,
        default=10,
        help="with --layout split: nice(1) of the work process (default 10, 0: none)",
    )
    p.add_argument(
        "--client",
        choices=("raw", "aiohttp"),
        default="raw",
        help="the webhook sender: raw (bench.http_load, lean; default) or aiohttp's client",
    )
    p.add_argument("--role", choices=("webhook", "xadd"), help=argparse.SUPPRESS)
    p.add_argument("--target", help=argparse.SUPPRESS)
    p.add_argument("--start", type=int, default=0, help=argparse.SUPPRESS)
    p.add_argument("--paced", type=float, default=0.0, help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.role == "webhook":
        res = load_webhook(
            args.target,
            args.n,
            args.start,
            args.users,
            args.concurrency,
            args.paced,
            args.client,
        )
        print(json.dumps(asyncio.run(res)))
        return
    if args.role == "xadd":
        print(json.dumps(asyncio.run(load_xadd(args.target, args.n, args.users, args.concurrency))))
        return
    if args.mode == "polling":
        polling_main(args)
        return
    started = time.monotonic()
    info = machine()
    print(f"bench.ingest on {info.cpu_model}, {info.cores} cores, Python {info.python}")
    with Procs() as procs:
        procs.redis()
        fake = procs.fake(limits=False)
        env: dict[str, str] = {}
        prof_path = None
        if args.profile:
            RESULTS.mkdir(exist_ok=True)
            prof_path = str(RESULTS / f"ingest-palm-{time.strftime('%Y%m%dT%H%M%S')}.prof")
            env["PALM_BENCH_PROFILE"] = prof_path
        split = args.layout == "split"
        palm = procs.start_palm(
            procs.palm_config("palm-ingest", fake, mode="webhook"),
            module="bench.palm_tuned",
            env=env,
            role="ingest" if split else "all",
        )
        palms = [palm]
        if split:  # the funnel and the acknowledgements in their own process
            palms.append(
                procs.start_palm(
                    procs.palm_config("palm-work", fake, mode="webhook"),
                    role="work",
                    nice=args.work_nice,
                )
            )
        procs.wait_ready(palms)
        hook = palm.base + "/telegram/webhook"
        print(
            f"{args.n} updates from {args.users} residents, concurrency {args.concurrency}, "
            f"layout {args.layout}, sender {args.client}"
        )
        warm = child("webhook", hook, 500, args, start=10_000_000)
        floods, raws, cpus = [], [], []
        for r in range(args.rounds):  # ABAB: the baseline moves by a third between runs
            cpu0 = [p.cpu_s() for p in palms]
            floods.append(child("webhook", hook, args.n, args, start=r * args.n))
            cpus.append([p.cpu_s() - c for p, c in zip(palms, cpu0, strict=True)])
            print(line(f"round {r} palm webhook flood", floods[-1]), flush=True)
            raws.append(child("xadd", procs.redis_url, args.n, args))
            print(line(f"round {r} raw redis-py XADD", raws[-1]), flush=True)
            time.sleep(2)  # let palm's funnel drain what the flood queued
        # The round with the median ratio stands for the run (its rates and latencies).
        mid = sorted(range(args.rounds), key=lambda i: floods[i]["rate"] / raws[i]["rate"])
        flood, raw, cpu = (
            floods[mid[args.rounds // 2]],
            raws[mid[args.rounds // 2]],
            cpus[mid[args.rounds // 2]],
        )
        palm_cpu = cpu[0]
        paced = child("webhook", hook, args.paced_n, args, start=20_000_000, paced=args.paced_rate)
        print(line(f"palm paced {args.paced_rate:.0f}/s", paced), flush=True)
        kept = stored(procs.redis_url)
        rss = palm.rss_mb()
        assert palm.proc is not None
        procs.stop(palm.proc)  # the profile is written on a clean exit
    profile = None
    if prof_path:
        from bench.fanout_headroom import top_of

        profile = f"profile of palm (flood + paced phases, under cProfile), {prof_path}:\n"
        profile += top_of(prof_path)
        print(profile)
    expected = args.rounds * args.n + args.paced_n + 500
    each = ", ".join(f"{f['rate'] / x['rate']:.2f}" for f, x in zip(floods, raws, strict=True))
    print(f"\nflood vs XADD per round: {each}; the median round:")
    ratios = [
        Ratio("palm webhook updates/s vs raw XADD/s", flood["rate"], raw["rate"], GOAL_RATIO, "/s"),
        Ratio(
            f"p99 receipt->durable, paced {args.paced_rate:.0f}/s (vs goal 5 ms)",
            paced["p99_ms"],
            GOAL_P99_MS,
            1.0,
            "ms",
            higher_is_better=False,
        ),
        Ratio(
            "p99 receipt->durable, flood (vs goal 5 ms)",
            flood["p99_ms"],
            GOAL_P99_MS,
            1.0,
            "ms",
            higher_is_better=False,
        ),
    ]
    print()
    for ratio in ratios:
        print(ratio.line())
    print(
        f"palm CPU during the flood: {1000 * palm_cpu / args.n:.2f} ms/update"
        + (f" (work process: {1000 * cpu[1] / args.n:.2f} ms/update)" if split else "")
        + "; "
        f"durably taken (dedupe keys): {kept} of {expected}; palm RSS {rss:.0f} MB"
    )
    path = write_result(
        "ingest",
        {
            "params": {k: v for k, v in vars(args).items() if k not in ("role", "target")},
            "warmup": warm,
            "flood": flood,
            "xadd": raw,
            "rounds": [{"flood": f, "xadd": x} for f, x in zip(floods, raws, strict=True)],
            "paced": paced,
            "palm_cpu_s_flood": palm_cpu,
            "work_cpu_s_flood": cpu[1] if split else None,
            "stored": kept,
            "profile": profile,
            "expected": expected,
            "ratios": [x.to_json() for x in ratios],
            "wall_s": time.monotonic() - started,
        },
    )
    print(f"wrote {path} ({time.monotonic() - started:.0f} s)")
    if kept != expected:
        raise SystemExit(f"lost updates: {expected - kept}")


def drain(fake: Fake, n: int, users: int, timeout: float = 300) -> dict[str, Any]:
    """Queue ``n`` updates in the fake; time until palm has stored and confirmed them all."""
    import urllib.request

    req = urllib.request.Request(
        f"{fake.control}/enqueue?n={n}&users={users}", data=b"", method="POST"
    )
    t0 = time.perf_counter()
    with urllib.request.urlopen(req, timeout=60) as resp:
        resp.read()
    deadline = time.monotonic() + timeout
    while True:
        bot = next(iter(fake.get("/stats")["bots"].values()))
        if bot["pending_updates"] == 0:
            break
        if time.monotonic() > deadline:
            raise SystemExit(f"polling flood not drained: {bot['pending_updates']} left")
        time.sleep(0.02)
    elapsed = time.perf_counter() - t0
    return {"n": n, "elapsed": elapsed, "rate": n / elapsed}


def polling_main(args: argparse.Namespace) -> None:
    started = time.monotonic()
    info = machine()
    print(f"bench.ingest --mode polling on {info.cpu_model}, {info.cores} cores")
    with Procs() as procs:
        procs.redis()
        fake = procs.fake(limits=False)
        palm = procs.start_palm(procs.palm_config("palm-ingest-poll", fake, mode="polling"))
        procs.wait_ready([palm])
        drain(fake, 500, args.users)  # warm-up
        cpu0 = palm.cpu_s()
        flood = drain(fake, args.n, args.users)
        palm_cpu = palm.cpu_s() - cpu0
        print(f"  palm polling flood           {flood['rate']:8.0f} /s  ({flood['elapsed']:.2f} s)")
        raw = child("xadd", procs.redis_url, args.n, args)
        print(line("raw redis-py XADD", raw), flush=True)
        kept = stored(procs.redis_url)
    expected = args.n + 500
    ratio = Ratio(
        "palm polling updates/s vs raw XADD/s", flood["rate"], raw["rate"], GOAL_RATIO, "/s"
    )
    print()
    print(ratio.line())
    print(
        f"palm CPU during the flood: {1000 * palm_cpu / args.n:.2f} ms/update; "
        f"durably taken (dedupe keys): {kept} of {expected}"
    )
    path = write_result(
        "ingest-polling",
        {
            "params": {k: v for k, v in vars(args).items() if k not in ("role", "target")},
            "flood": flood,
            "xadd": raw,
            "palm_cpu_s_flood": palm_cpu,
            "stored": kept,
            "expected": expected,
            "ratios": [ratio.to_json()],
            "wall_s": time.monotonic() - started,
        },
    )
    print(f"wrote {path} ({time.monotonic() - started:.0f} s)")
    if kept != expected:
        raise SystemExit(f"lost updates: {expected - kept}")


if __name__ == "__main__":
    main()
