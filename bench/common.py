"""Small helpers every benchmark shares: machine info, figures, ratios, JSON results.

A benchmark prints each figure next to a baseline measured in the same run and the
goal for their ratio, then writes everything to ``bench/results/<name>-<stamp>.json``
(gitignored) so runs on one machine can be compared later.
"""

from __future__ import annotations

import json
import math
import os
import platform
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).resolve().parent / "results"


@dataclass(frozen=True, slots=True)
class Machine:
    cpu_model: str
    cores: int
    python: str
    platform: str
    date: str


def machine() -> Machine:
    return Machine(
        cpu_model=_cpu_model(),
        cores=os.cpu_count() or 0,
        python=platform.python_version(),
        platform=platform.platform(),
        date=datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
    )


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def percentile(values: Sequence[float], p: float) -> float:
    """Nearest-rank percentile (``p`` in 0..100); ``nan`` for no values."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = max(1, math.ceil(p / 100 * len(ordered)))
    return ordered[min(rank, len(ordered)) - 1]


@dataclass(slots=True)
class Stopwatch:
    """``with Stopwatch() as sw: ...`` then ``sw.elapsed`` (seconds, monotonic)."""

    started: float = 0.0
    elapsed: float = 0.0

    def __enter__(self) -> Stopwatch:
        self.started = time.perf_counter()
        return self

    def __exit__(self, *exc: object) -> None:
        self.elapsed = time.perf_counter() - self.started


@dataclass(frozen=True, slots=True)
class Ratio:
    """One figure against its same-run baseline, with the goal for ``value / baseline``."""

    label: str
    value: float
    baseline: float
    goal: float
    unit: str = ""
    higher_is_better: bool = True
    notes: dict[str, Any] = field(default_factory=dict)

    @property
    def ratio(self) -> float:
        return self.value / self.baseline if self.baseline else math.nan

    @property
    def met(self) -> bool:
        r = self.ratio
        return r >= self.goal if self.higher_is_better else r <= self.goal

    def line(self) -> str:
        op = ">=" if self.higher_is_better else "<="
        verdict = "MET" if self.met else "MISSED"
        return (
            f"{self.label}: {self.value:,.1f} {self.unit} vs baseline {self.baseline:,.1f} "
            f"{self.unit} -> ratio {self.ratio:.2f} (goal {op} {self.goal:g}) {verdict}"
        )

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "ratio": self.ratio, "met": self.met}


def write_result(name: str, payload: dict[str, Any]) -> Path:
    """Write ``payload`` plus machine info to ``bench/results/<name>-<stamp>.json``."""
    RESULTS.mkdir(exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    path = RESULTS / f"{name}-{stamp}.json"
    doc = {"benchmark": name, "machine": asdict(machine()), **payload}
    path.write_text(json.dumps(doc, indent=2, sort_keys=True, default=str) + "\n")
    return path


async def delete_prefix(redis: Any, prefix: str) -> None:
    """Remove every key under ``prefix`` (a benchmark's own keys on a shared Redis)."""
    batch = [k async for k in redis.scan_iter(match=prefix + "*", count=5000)]
    for i in range(0, len(batch), 1000):
        await redis.delete(*batch[i : i + 1000])
