"""``bench.fanout_limits``: one announcement to 3,000 private chats and 50 groups on the
fake Bot API with its limits enforced, through real ``palm run`` processes.

    .venv/bin/python -m bench.fanout_limits                 # ~2 min: the shipped settings
    .venv/bin/python -m bench.fanout_limits --processes 3   # three palm run on one Redis
    .venv/bin/python -m bench.fanout_limits --sweep --private 900   # several margins
    .venv/bin/python -m bench.fanout_limits --load          # a CPU hog on every core

Peers, each its own process: a private redis-server (AOF everysec), the fake Bot API
(``bench.fake_telegram_server``, limits on) and 1..N ``palm run`` (``bench.palm_tuned``,
which only lets ``--sweep`` set the margins of ``adapters.telegram.limits``).

Figures, all from the fake's arrival times: msg/s between the first and the last
arrival against the 30/s limit (goal >= 0.97), window violations the fake counted
(goal 0), the most arrivals in any rolling second, and the time from the POST to the
last arrival against the floor N/30 s.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import multiprocessing
import os
import time
from collections.abc import Iterator
from typing import Any

from bench.common import Ratio, machine, write_result
from bench.fanout import Round, run_round, seed
from bench.procs import Procs

LIMIT = 30.0
GOAL = 0.97

# (label, settings of adapters.telegram.limits) measured by --sweep. Free sends count
# from their answers since the ninth session; the margins before that are in bench/README.
SWEEP: list[tuple[str, dict[str, Any]]] = [
    ("burst m=0.005", {"BOT_MARGIN": 0.005, "BOT_SPREAD": False}),
    ("spread m=0.02", {"BOT_MARGIN": 0.02, "BOT_SPREAD": True}),
    ("spread m=0.005", {"BOT_MARGIN": 0.005, "BOT_SPREAD": True}),
    ("spread m=0", {"BOT_MARGIN": 0.0, "BOT_SPREAD": True}),
]


def _spin() -> None:
    while True:
        pass


@contextlib.contextmanager
def cpu_hogs(n: int) -> Iterator[None]:
    """``n`` processes that spin at full speed: the busy machine of ``--load``."""
    hogs = [multiprocessing.Process(target=_spin, daemon=True) for _ in range(n)]
    for h in hogs:
        h.start()
    try:
        yield
    finally:
        for h in hogs:
            h.terminate()
        for h in hogs:
            h.join(5)


def line(r: Round) -> str:
    return (
        f"  {r.label:<22} x{r.processes} {r.delivered}/{r.messages} msgs  "
        f"{r.rate:5.2f} msg/s ({r.rate / LIMIT:.3f} of 30/s)  violations {r.violations}  "
        f"max in 1 s {r.max_in_1s}  finish {r.finish_s:6.1f} s (floor {r.messages / LIMIT:.1f} s)"
        f"  gap p50/p99/min {r.gap_p50_ms:.1f}/{r.gap_p99_ms:.1f}/{r.gap_min_ms:.1f} ms"
        f"  palm cpu {r.palm_cpu_s:.1f} s"
    )


def main() -> None:
    p = argparse.ArgumentParser(prog="python -m bench.fanout_limits", description=__doc__)
    p.add_argument("--private", type=int, default=3000, help="private chats (default 3000)")
    p.add_argument("--groups", type=int, default=50, help="groups (default 50)")
    p.add_argument("--processes", type=int, default=1, help="palm run processes (default 1)")
    p.add_argument("--workers", type=int, default=16, help="outbox workers per process")
    p.add_argument("--sweep", action="store_true", help="measure every setting in SWEEP")
    p.add_argument(
        "--settings", default="{}", help="JSON for bench.palm_tuned (default: the shipped ones)"
    )
    p.add_argument("--load", action="store_true", help="a CPU hog on every core meanwhile")
    args = p.parse_args()
    started = time.monotonic()
    info = machine()
    plan = SWEEP if args.sweep else [("shipped", json.loads(args.settings))]
    print(f"bench.fanout_limits on {info.cpu_model}, {info.cores} cores, Python {info.python}")
    rounds: list[Round] = []
    with Procs() as procs:
        procs.redis()
        fake = procs.fake(limits=True)
        n = seed(procs, args.private, args.groups)
        print(
            f"{args.private} private chats + {args.groups} groups = {n} messages; "
            f"{args.processes} palm run x {args.workers} workers; fake limits ON"
            + (f"; {os.cpu_count()} CPU hogs" if args.load else "")
        )
        for label, settings in plan:
            hogs = cpu_hogs(os.cpu_count() or 1) if args.load else contextlib.nullcontext()
            with hogs:
                r = run_round(
                    procs,
                    fake,
                    label=label,
                    n_total=n,
                    processes=args.processes,
                    workers=args.workers,
                    settings=settings,
                    timeout=60 + n / 20,
                )
            rounds.append(r)
            print(line(r), flush=True)
            if r.violations:
                print(f"    violations: {r.violation_log[:5]}")
    _report(rounds, args, started)


def _report(rounds: list[Round], args: argparse.Namespace, started: float) -> None:
    ratios = [
        Ratio(f"{r.label} x{r.processes}: msg/s vs the 30/s limit", r.rate, LIMIT, GOAL, "msg/s")
        for r in rounds
    ]
    finish = [
        Ratio(
            f"{r.label}: time to finish vs floor N/30",
            r.finish_s,
            r.messages / LIMIT,
            1.05,
            "s",
            higher_is_better=False,
        )
        for r in rounds
    ]
    print()
    for ratio in ratios + finish:
        print(ratio.line())
    for r in rounds:
        verdict = "MET" if r.violations == 0 else "MISSED"
        lost = r.messages - r.api_counts.get("sent", 0)
        print(
            f"{r.label}: window violations {r.violations} (goal 0) {verdict}; "
            f"palm counts {r.api_counts} ({lost} not sent)"
        )
    path = write_result(
        "fanout_limits",
        {
            "params": vars(args),
            "rounds": [r.to_json() for r in rounds],
            "ratios": [x.to_json() for x in ratios + finish],
            "wall_s": time.monotonic() - started,
        },
    )
    print(f"wrote {path} ({time.monotonic() - started:.0f} s)")


if __name__ == "__main__":
    main()
