"""Formatting helpers for the templates (times, ages, links), registered as Jinja filters."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

from jinja2 import pass_context
from jinja2.runtime import Context

from gateway.console.reasons import explain


def local_time(ts: float | None) -> str:
    """A time in palm's local time zone, as the composer's schedule field uses it."""
    if not ts:
        return ""
    return datetime.fromtimestamp(float(ts)).astimezone().strftime("%Y-%m-%d %H:%M")


# Units in the page's language: "5m 3s" on an English page, "5分钟3秒" on a Chinese one.
_UNITS = {
    "en": {"s": "{}s", "m": "{}m", "h": "{}h", "d": "{}d", "sep": " "},
    "zh": {"s": "{}秒", "m": "{}分钟", "h": "{}小时", "d": "{}天", "sep": ""},
}
# An age reads as one ("5m ago", "5分钟前"): a bare "0s" under "Received" looked like a
# duration, or like nothing having happened. Under a minute is "just now".
_AGO = {"en": ("just now", "{} ago"), "zh": ("刚刚", "{}前")}


def _parts(lang: str, *parts: tuple[int, str]) -> str:
    units = _UNITS.get(lang, _UNITS["en"])
    return units["sep"].join(units[unit].format(n) for n, unit in parts)


def ago(ts: float | None, lang: str = "en") -> str:
    if not ts:
        return ""
    s = max(0, int(time.time() - float(ts)))
    now, before = _AGO.get(lang, _AGO["en"])
    if s < 60:
        return now
    if s < 3600:
        return before.format(_parts(lang, (s // 60, "m")))
    if s < 86400:
        return before.format(_parts(lang, (s // 3600, "h"), (s % 3600 // 60, "m")))
    return before.format(_parts(lang, (s // 86400, "d"), (s % 86400 // 3600, "h")))


def duration(seconds: float | None, lang: str = "en") -> str:
    if seconds is None:
        return "–"
    s = int(seconds)
    if s < 60:
        return _parts(lang, (s, "s"))
    if s < 3600:
        return _parts(lang, (s // 60, "m"), (s % 60, "s"))
    return _parts(lang, (s // 3600, "h"), (s % 3600 // 60, "m"))


@pass_context
def _ago_filter(ctx: Context, ts: float | None) -> str:
    return ago(ts, str(ctx.get("lang") or "en"))


@pass_context
def _duration_filter(ctx: Context, seconds: float | None) -> str:
    return duration(seconds, str(ctx.get("lang") or "en"))


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


@pass_context
def _why_filter(ctx: Context, reason: str | None) -> str | None:
    return explain(reason, str(ctx.get("lang") or "en"))


def fmt_filters() -> dict[str, Callable[..., Any]]:
    return {
        "why": _why_filter,
        "local_time": local_time,
        "ago": _ago_filter,
        "duration": _duration_filter,
        "map_link": map_link,
        "size": size,
    }
