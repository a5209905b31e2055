"""The fan-out engine shared by ``bench.fanout_limits`` and ``bench.fanout_headroom``.

One round: register the targets in the benchmark's Redis, start ``processes`` ``palm
run`` processes against the fake Bot API (its own process), POST one announcement to
the tag every target carries, and wait until the fake has recorded one message per
target. The figures come from the fake's own arrival times, so they are what Telegram
would see, not what palm thinks it sent.
"""

from __future__ import annotations

import itertools
import json
import time
from dataclasses import asdict, dataclass
from typing import Any

from bench.common import percentile
from bench.procs import Fake, Palm, Procs, api, make_token, seed_targets

TAG = "benchfan"
PRIVATE_BASE = 500_000_000
GROUP_BASE = -1_002_000_000_000


def targets(n_private: int, n_groups: int) -> list[tuple[str, str]]:
    out = [(f"telegram:{PRIVATE_BASE + i}", "direct") for i in range(n_private)]
    out += [(f"telegram:{GROUP_BASE - i}", "group") for i in range(n_groups)]
    return out


@dataclass(frozen=True, slots=True)
class Round:
    label: str
    settings: dict[str, Any]
    processes: int
    workers: int
    messages: int
    delivered: int
    """Messages the fake recorded (accepted sends)."""
    violations: int
    """Sends the fake refused with 429 because a rolling window was full."""
    violation_log: list[str]
    rate: float
    """Messages per second between the first and the last arrival."""
    finish_s: float
    """From the POST of the announcement to the last arrival."""
    max_in_1s: int
    """The most arrivals in any rolling second (the fake's own clock)."""
    api_counts: dict[str, int]
    palm_cpu_s: float
    redis_cpu_s: float
    gap_p50_ms: float
    gap_p99_ms: float
    gap_min_ms: float
    palm_peak_rss_mb: float = 0.0
    """The largest RSS of one palm process, sampled while the broadcast ran."""
    paid_sends: int = 0
    """Sends the fake recorded with ``allow_paid_broadcast``."""
    post_s: float = 0.0
    """How long the announcement's POST took (every delivery written)."""
    first_s: float = 0.0
    """From the POST to the first arrival."""

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def max_in_window(times: list[float], window: float = 1.0) -> int:
    best, lo = 0, 0
    for hi, t in enumerate(times):
        while t - times[lo] >= window:
            lo += 1
        best = max(best, hi - lo + 1)
    return best


def run_round(
    procs: Procs,
    fake: Fake,
    *,
    label: str,
    n_total: int,
    processes: int,
    workers: int,
    settings: dict[str, Any],
    timeout: float,
    profile_to: str | None = None,
    telegram: dict[str, Any] | None = None,
    priority: str = "normal",
) -> Round:
    """One announcement to every seeded target through ``processes`` palm processes."""
    fake.post("/reset")
    env = {"PALM_BENCH_LIMITS": json.dumps(settings)}
    if profile_to:
        env["PALM_BENCH_PROFILE"] = profile_to
    palms: list[Palm] = []
    for n in range(processes):
        palm = procs.palm_config(
            f"palm-{label}-{n}", fake, workers=workers, telegram_extra=telegram
        )
        palms.append(procs.start_palm(palm, module="bench.palm_tuned", env=env))
    try:
        procs.wait_ready(palms)
        token = make_token(procs.redis_url)
        cpu0 = [p.cpu_s() for p in palms]
        rcpu0 = procs.redis_server_cpu_s()
        posted = time.time()
        ann = api(
            palms[0].base,
            token,
            "POST",
            "/announcements",
            {
                "text": f"**Bench {label}**: water off 9:00-12:00",
                "to": TAG,
                "priority": priority,
            },
        )
        post_s = time.time() - posted
        deadline = time.monotonic() + timeout
        sent = 0
        peak_rss = 0.0
        while time.monotonic() < deadline:
            sent = int(fake.get("/count")["sent"])
            peak_rss = max([peak_rss, *(p.rss_mb() for p in palms)])
            if sent >= n_total:
                break
            time.sleep(0.25)
        # a moment for the last transitions to land in Redis before reading the counts
        time.sleep(0.5)
        cpu = sum(p.cpu_s() for p in palms) - sum(cpu0)
        rcpu = procs.redis_server_cpu_s() - rcpu0
        stats = fake.get("/stats")
        arrivals = sorted(fake.get("/arrivals")["times"])
        detail = api(palms[0].base, token, "GET", f"/announcements/{ann['id']}")
    finally:
        for palm in palms:
            assert palm.proc is not None
            procs.stop(palm.proc)
    bot = next(iter(stats["bots"].values()))
    span = arrivals[-1] - arrivals[0] if len(arrivals) > 1 else float("nan")
    gaps = [1000 * (b - a) for a, b in itertools.pairwise(arrivals)]
    return Round(
        label=label,
        settings=settings,
        processes=processes,
        workers=workers,
        messages=n_total,
        delivered=len(arrivals),
        violations=int(stats["total"]["violations"]),
        violation_log=list(bot["violation_log"]),
        rate=(len(arrivals) - 1) / span if span > 0 else float("nan"),
        finish_s=(arrivals[-1] - posted) if arrivals else float("nan"),
        max_in_1s=max_in_window(arrivals),
        api_counts=dict(detail.get("counts", {})),
        palm_cpu_s=cpu,
        redis_cpu_s=rcpu,
        gap_p50_ms=percentile(gaps, 50),
        gap_p99_ms=percentile(gaps, 99),
        gap_min_ms=min(gaps, default=float("nan")),
        palm_peak_rss_mb=peak_rss,
        paid_sends=int(bot.get("paid_sends", 0)),
        post_s=post_s,
        first_s=(arrivals[0] - posted) if arrivals else float("nan"),
    )


def seed(procs: Procs, n_private: int, n_groups: int) -> int:
    all_targets = targets(n_private, n_groups)
    seed_targets(procs.redis_url, all_targets, [TAG])
    return len(all_targets)
