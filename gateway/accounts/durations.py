"""Durations as people write them: ``90d``, ``12h``, ``30m``, ``45s`` (or ``1d12h``)."""

from __future__ import annotations

import re

from gateway.errors import InputError

__all__ = ["parse_duration"]

_UNITS = {"d": 86400, "h": 3600, "m": 60, "s": 1}
_PART = re.compile(r"(\d{1,6})([dhms])")
MAX_SECONDS = 10 * 365 * 86400


def parse_duration(text: str) -> float:
    """Seconds in ``text``; ``InputError`` naming the accepted forms otherwise."""
    raw = text.strip().lower()
    parts = _PART.findall(raw)
    if not raw or "".join(n + u for n, u in parts) != raw:
        raise InputError(f"duration {text!r}: write it like 90d, 12h, 30m or 1d12h")
    seconds = sum(int(n) * _UNITS[u] for n, u in parts)
    if not 0 < seconds <= MAX_SECONDS:
        raise InputError(f"duration {text!r}: must be more than 0 and at most 10 years")
    return float(seconds)
