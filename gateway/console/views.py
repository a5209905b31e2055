"""Formatting helpers for the templates (times, ages, links), registered as Jinja filters."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime
from typing import Any
from urllib.parse import urlencode


def local_time(ts: float | None) -> str:
    """A time in palm's local time zone, as the composer's schedule field uses it."""
    if not ts:
        return ""
    return datetime.fromtimestamp(float(ts)).astimezone().strftime("%Y-%m-%d %H:%M")


def ago(ts: float | None) -> str:
    if not ts:
        return ""
    s = max(0, int(time.time() - float(ts)))
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m"
    if s < 86400:
        return f"{s // 3600}h {s % 3600 // 60}m"
    return f"{s // 86400}d {s % 86400 // 3600}h"


def duration(seconds: float | None) -> str:
    if seconds is None:
        return "–"
    s = int(seconds)
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m {s % 60}s"
    return f"{s // 3600}h {s % 3600 // 60}m"


def map_link(loc: dict[str, Any]) -> str:
    """An OpenStreetMap link for a shared location (a link only: nothing loads from it)."""
    lat, lon = float(loc["latitude"]), float(loc["longitude"])
    return (
        "https://www.openstreetmap.org/?"
        + urlencode({"mlat": f"{lat:.6f}", "mlon": f"{lon:.6f}"})
        + f"#map=17/{lat:.6f}/{lon:.6f}"
    )


def size(n: int | None) -> str:
    if not n:
        return ""
    if n < 1024:
        return f"{n} B"
    if n < 1024 * 1024:
        return f"{n / 1024:.0f} KB"
    return f"{n / 1024 / 1024:.1f} MB"


def fmt_filters() -> dict[str, Callable[..., Any]]:
    return {
        "local_time": local_time,
        "ago": ago,
        "duration": duration,
        "map_link": map_link,
        "size": size,
    }
