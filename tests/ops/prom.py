"""A real Prometheus (Debian's package) for the tests, and the rule-file time scaling.

``scale_rules`` makes the shipped alert rules testable in seconds: it divides every
duration by ``FACTOR`` (``for: 10m`` -> ``for: 10s``, ``rate(x[5m])`` -> ``x[5s]``) and
every threshold compared with an ``*_age_seconds`` gauge (an age is a duration too:
``> 600`` -> ``> 10``). Nothing else in an expression changes; ``skeleton`` proves that.
"""

from __future__ import annotations

import asyncio
import re
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

import aiohttp
import yaml

from tests.core.helpers import free_port

FACTOR = 60
"""One minute of production time is one second of test time."""

_DURATION = re.compile(r"\b(\d+)([smhd])\b")
_UNIT = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_AGE_THRESHOLD = re.compile(r"(_age_seconds\b[^<>]*?>\s*)(\d+(?:\.\d+)?)")


def _scale_duration(match: re.Match[str]) -> str:
    seconds = int(match.group(1)) * _UNIT[match.group(2)]
    return f"{max(1, round(seconds / FACTOR))}s"


def _scale_expr(expr: str) -> str:
    expr = re.sub(r"\[(\d+)([smhd])\]", lambda m: f"[{_scale_duration(m)}]", expr)
    return _AGE_THRESHOLD.sub(lambda m: m.group(1) + f"{float(m.group(2)) / FACTOR:g}", expr)


def skeleton(expr: str) -> str:
    """The expression with its durations and age thresholds blanked out."""
    expr = re.sub(r"\[(\d+)([smhd])\]", "[D]", expr)
    return _AGE_THRESHOLD.sub(lambda m: m.group(1) + "N", " ".join(expr.split()))


def scale_rules(shipped: dict[str, Any]) -> dict[str, Any]:
    groups = []
    for group in shipped["groups"]:
        rules = []
        for rule in group["rules"]:
            scaled = dict(rule)
            scaled["expr"] = _scale_expr(rule["expr"])
            if "for" in rule:
                scaled["for"] = _DURATION.sub(_scale_duration, rule["for"])
            rules.append(scaled)
        groups.append({**group, "rules": rules})
    return {"groups": groups}


def promtool_check(path: Path) -> subprocess.CompletedProcess[str]:
    promtool = shutil.which("promtool")
    assert promtool, "promtool is missing: scripts/test installs the prometheus package"
    return subprocess.run(
        [promtool, "check", "rules", str(path)], capture_output=True, text=True, timeout=60
    )


class Prometheus:
    """``prometheus`` scraping one job every second and evaluating rules every second."""

    def __init__(self, workdir: Path, targets: list[str], rules: Path) -> None:
        self.dir = workdir
        self.port = free_port()
        self.targets = targets
        self.rules = rules
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        binary = shutil.which("prometheus")
        assert binary, "prometheus is missing: scripts/test installs the prometheus package"
        self.dir.mkdir(parents=True, exist_ok=True)
        config = {
            "global": {
                "scrape_interval": "1s",
                "scrape_timeout": "1s",
                "evaluation_interval": "1s",
            },
            "rule_files": [str(self.rules)],
            "scrape_configs": [{"job_name": "palm", "static_configs": [{"targets": self.targets}]}],
        }
        cfg = self.dir / "prometheus.yml"
        cfg.write_text(yaml.safe_dump(config), encoding="utf-8")
        with (self.dir / "prometheus.log").open("wb") as log:
            self.proc = subprocess.Popen(
                [binary, f"--config.file={cfg}", f"--storage.tsdb.path={self.dir / 'data'}",
                 f"--web.listen-address=127.0.0.1:{self.port}"],
                stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            )  # fmt: skip

    async def ready(self, limit: float = 60) -> None:
        deadline = time.monotonic() + limit
        async with aiohttp.ClientSession() as s:
            while time.monotonic() < deadline:
                assert self.proc is not None
                assert self.proc.poll() is None, self.log_tail()
                try:
                    async with s.get(self.base + "/-/ready") as r:
                        if r.status == 200:
                            return
                except aiohttp.ClientError:
                    pass
                await asyncio.sleep(0.2)
        raise AssertionError(f"prometheus not ready:\n{self.log_tail()}")

    def log_tail(self) -> str:
        try:
            return (self.dir / "prometheus.log").read_text(errors="replace")[-2000:]
        except OSError:
            return "(no log)"

    async def query(self, expr: str) -> list[dict[str, Any]]:
        async with (
            aiohttp.ClientSession() as s,
            s.get(self.base + "/api/v1/query", params={"query": expr}) as r,
        ):
            body = await r.json()
        assert body["status"] == "success", (expr, body)
        result: list[dict[str, Any]] = body["data"]["result"]
        return result

    async def firing(self) -> set[str]:
        async with aiohttp.ClientSession() as s, s.get(self.base + "/api/v1/alerts") as r:
            body = await r.json()
        return {a["labels"]["alertname"] for a in body["data"]["alerts"] if a["state"] == "firing"}

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
