"""Markdown parsing time: adversarial input against normal text, both 20,000 characters.

    .venv/bin/python -m bench.markdown [--chars 20000] [--repeat 7]

The inline parser used to be a regular expression that searched for a closer from
every opener: ``*a *a *a …`` (20k characters) took 1.35 s against 0.008 s for normal
text (issue 10). Each input here is parsed ``--repeat`` times and the median is taken;
the ratio of each adversarial input to the normal text is printed with the goal (<= 3).
CPU only, in this process: there are no peers to run.
"""

from __future__ import annotations

import argparse
import statistics
import time

from bench.common import Ratio, write_result
from gateway.markdown import parse, to_html

NORMAL = (
    "Tank cleaning for building 5: **Tue 9:00-12:00**, water off. Please store water "
    "the evening before; see [the notice](https://palm.example.org/n/17). _Thank you_.\n"
    "- bring a bucket\n- close the taps\n\n"
)
ADVERSARIAL = {
    "star_a": "*a ",  # the case: every '*' opens, none closes
    "underscore_a": "_a ",
    "bold_a": "**a ",
    "brackets": "[",
    "open_links": "[a](http://x ",
    "mixed": "*_[**a](",
}


def _fill(unit: str, chars: int) -> str:
    return (unit * (chars // len(unit) + 1))[:chars]


def _median_seconds(text: str, repeat: int) -> float:
    runs = []
    for _ in range(repeat):
        started = time.perf_counter()
        to_html(parse(text), block_tags=True)
        runs.append(time.perf_counter() - started)
    return statistics.median(runs)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("--chars", type=int, default=20_000)
    ap.add_argument("--repeat", type=int, default=7)
    args = ap.parse_args()
    normal = _median_seconds(_fill(NORMAL, args.chars), args.repeat)
    print(f"normal text, {args.chars:,} chars: {normal * 1000:.1f} ms (median of {args.repeat})")
    ratios = []
    for name, unit in ADVERSARIAL.items():
        took = _median_seconds(_fill(unit, args.chars), args.repeat)
        ratio = Ratio(
            f"{name} ({unit!r} x {args.chars // len(unit):,})",
            took * 1000, normal * 1000, goal=3.0, unit="ms", higher_is_better=False,
        )  # fmt: skip
        ratios.append(ratio)
        print(ratio.line())
    worst = max(ratios, key=lambda r: r.ratio)
    print(f"worst adversarial/normal ratio: {worst.ratio:.2f} ({worst.label}); goal <= 3")
    path = write_result(
        "markdown",
        {"chars": args.chars, "repeat": args.repeat, "normal_seconds": normal,
         "ratios": [r.to_json() for r in ratios]},
    )  # fmt: skip
    print(f"results: {path}")
    return 0 if all(r.met for r in ratios) else 1


if __name__ == "__main__":
    raise SystemExit(main())
