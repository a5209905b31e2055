"""``bench.fanout_paid``: an urgent announcement to 100,000 private chats with
``paid_broadcast: urgent``, on the fake Bot API with the paid limits enforced (1,000/s
for paid sends, 1/s per chat), through a real ``palm run``.

    .venv/bin/python -m bench.fanout_paid                    # 100,000 chats
    .venv/bin/python -m bench.fanout_paid --private 20000    # a quicker look
    .venv/bin/python -m bench.fanout_paid --load             # a CPU hog on every core

Prints the time from the POST to the last arrival against the floor N/1000 s (goal
<= 1.1 of it), the fake's window violations (goal 0), msg/s between the first and the
last arrival against the 1,000/s limit (goal >= 0.9), how many sends carried
``allow_paid_broadcast`` (all of them), and the peak RSS of ``palm run`` (goal <= 300 MB).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import pstats
import time

from bench.common import RESULTS, Ratio, machine, write_result
from bench.fanout import run_round, seed
from bench.fanout_limits import cpu_hogs
from bench.procs import Procs

LIMIT = 1000.0
RSS_GOAL_MB = 300.0


def main() -> None:
    p = argparse.ArgumentParser(prog="python -m bench.fanout_paid", description=__doc__)
    p.add_argument("--private", type=int, default=100_000, help="private chats (default 100000)")
    p.add_argument("--workers", type=int, default=64, help="outbox workers (default 64)")
    p.add_argument("--load", action="store_true", help="a CPU hog on every core meanwhile")
    p.add_argument("--profile", action="store_true", help="palm under cProfile (prints its top)")
    args = p.parse_args()
    started = time.monotonic()
    info = machine()
    print(f"bench.fanout_paid on {info.cpu_model}, {info.cores} cores, Python {info.python}")
    print(f"load average before: {os.getloadavg()}")
    stamp = time.strftime("%Y%m%dT%H%M%S")
    prof = RESULTS / f"fanout_paid-palm-{stamp}.prof" if args.profile else None
    with Procs() as procs:
        procs.redis()
        fake = procs.fake(limits=True)
        n = seed(procs, args.private, 0)
        print(f"{n} private chats, urgent, paid_broadcast: urgent, {args.workers} workers")
        hogs = cpu_hogs(os.cpu_count() or 1) if args.load else contextlib.nullcontext()
        with hogs:
            r = run_round(
                procs,
                fake,
                label="paid",
                n_total=n,
                processes=1,
                workers=args.workers,
                settings={},
                timeout=120 + n / 50,
                telegram={"paid_broadcast": "urgent"},
                priority="urgent",
                profile_to=str(prof) if prof else None,
            )
    floor = n / LIMIT
    ratios = [
        Ratio("time to the last arrival vs floor N/1000", r.finish_s, floor, 1.1, "s",
              higher_is_better=False),
        Ratio("msg/s vs the 1,000/s paid limit", r.rate, LIMIT, 0.9, "msg/s"),
        Ratio("peak palm RSS vs 300 MB", r.palm_peak_rss_mb, RSS_GOAL_MB, 1.0, "MB",
              higher_is_better=False),
    ]  # fmt: skip
    print(
        f"{r.delivered}/{n} arrived, {r.paid_sends} paid; violations {r.violations} (goal 0)"
        f" {r.violation_log[:5]}; max in 1 s {r.max_in_1s}; palm cpu {r.palm_cpu_s:.0f} s,"
        f" redis cpu {r.redis_cpu_s:.0f} s; counts {r.api_counts}"
    )
    print(f"the POST took {r.post_s:.2f} s; first arrival {r.first_s:.2f} s after it")
    if prof:
        stats = pstats.Stats(str(prof))
        stats.sort_stats("cumulative").print_stats(40)
    for ratio in ratios:
        print(ratio.line())
    print(f"load average after: {os.getloadavg()}")
    path = write_result(
        "fanout_paid",
        {
            "params": vars(args),
            "round": r.to_json(),
            "ratios": [x.to_json() for x in ratios],
            "wall_s": time.monotonic() - started,
        },
    )
    print(f"wrote {path} ({time.monotonic() - started:.0f} s)")


if __name__ == "__main__":
    main()
