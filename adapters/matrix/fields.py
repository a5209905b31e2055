"""Defensive reading of Matrix JSON: a value of the wrong type reads as empty.

``/sync`` bodies come from a homeserver and, through it, from any client: the
normaliser reads every field through these, so nothing malformed ever raises; what
it cannot use at all it reports with ``malformed``.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from gateway.metrics import INBOUND_MALFORMED

# Named for the normaliser these warnings have always come from: log filters (and the
# fuzz test) select them by this name.
log = logging.getLogger("adapters.matrix.normalize")


def as_dict(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def as_list(value: Any) -> list[Mapping[str, Any]]:
    return [v for v in value if isinstance(v, Mapping)] if isinstance(value, list) else []


def as_str(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def as_num(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def malformed(room_id: object, event_id: object, reason: str) -> None:
    """Count and log (once, at warning) something that cannot be normalised."""
    INBOUND_MALFORMED.labels(platform="matrix").inc()
    room = room_id if isinstance(room_id, str) else "?"
    event = event_id if isinstance(event_id, str) else "?"
    log.warning("matrix event %r in %r cannot be normalised: %s", event[:255], room[:255], reason)
