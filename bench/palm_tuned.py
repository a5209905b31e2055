"""``palm`` with the Telegram limit margins taken from ``PALM_BENCH_LIMITS`` (benchmarks only).

    PALM_BENCH_LIMITS='{"BOT_MARGIN": 0.02, "BOT_SPREAD": true}' python -m bench.palm_tuned -c F run

With ``PALM_BENCH_PROFILE=FILE`` it runs under cProfile and dumps the profile on exit.
``bench.fanout_limits --sweep`` uses it to measure several settings of
``adapters.telegram.limits`` against the fake Bot API without editing the code between
runs. Only the named module constants change; ``rules_for`` reads them on every call.
"""

from __future__ import annotations

import json
import os

from adapters.telegram import limits
from gateway.cli.main import main

TUNABLE = (
    "JITTER_MARGIN",
    "BOT_MARGIN",
    "BOT_SPREAD",
    "BOT_PER_SECOND",
    "PAID_PACE",
    "PAID_MARGIN",
)


def apply(settings: dict[str, object]) -> None:
    for name, value in settings.items():
        if name not in TUNABLE:
            raise SystemExit(f"PALM_BENCH_LIMITS: {name} is not one of {TUNABLE}")
        setattr(limits, name, value)


def run() -> int:
    """``palm``; under cProfile (dumped on exit) when ``PALM_BENCH_PROFILE`` names a file."""
    apply(json.loads(os.environ.get("PALM_BENCH_LIMITS") or "{}"))
    path = os.environ.get("PALM_BENCH_PROFILE")
    if not path:
        return main()
    import cProfile

    prof = cProfile.Profile()
    prof.enable()
    try:
        return main()
    finally:
        prof.disable()
        prof.dump_stats(path)


if __name__ == "__main__":
    raise SystemExit(run())
