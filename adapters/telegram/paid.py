"""``platforms.telegram.paid_broadcast``: which sends pay for 1,000 messages/s.

Telegram's ``allow_paid_broadcast`` lets a bot send up to 1,000 messages per second,
"ignoring broadcasting limits", for 0.1 Telegram Stars per message taken from the bot's
balance. Palm sets it on urgent sends (``urgent``) or every send (``all``); those sends
count against a 1,000/s bot-wide rule instead of the free 30/s one (``limits``). The
per-chat 1/s and per-group 20/min rules hold either way.

A bot that cannot pay (too few Stars, or not eligible) gets an error for a paid send.
The Bot API documents none; palm recognises MTProto's ``BALANCE_TOO_LOW`` (passed
through as "Bad Request: BALANCE_TOO_LOW") and a few plain wordings (``REFUSALS``).
The send is then retried at once without the flag and at the free rate, the fall-back
is counted (``palm_paid_broadcast_fallback_total``), and paid sends stay off for
``RETRY_PAID_AFTER`` seconds in this process (Stars may be topped up meanwhile).
"""

from __future__ import annotations

import logging
import time
from typing import Literal

from prometheus_client import Counter

from gateway.metrics import REGISTRY
from gateway.models import Priority

log = logging.getLogger(__name__)

PaidMode = Literal["off", "urgent", "all"]
RETRY_PAID_AFTER = 300.0
JUST_FELL_BACK = 2.0
"""Seconds after a fall-back in which a send may still hold a paid permit taken before
it (the core takes the permit from ``rate_rules`` before ``send``)."""
REFUSALS = ("balance_too_low", "not enough stars", "paid broadcast", "allow_paid_broadcast")
"""Lower-case fragments of a 400 description that refuses a paid send."""

PAID_FALLBACK = Counter(
    "palm_paid_broadcast_fallback_total",
    "Paid-broadcast sends Telegram refused (no Stars / not eligible), resent at the free rate",
    registry=REGISTRY,
)


def is_refusal(description: str) -> bool:
    low = description.lower()
    return any(s in low for s in REFUSALS)


class PaidBroadcast:
    """The mode, and whether this process has fallen back to the free rate."""

    def __init__(self, mode: PaidMode) -> None:
        self._mode = mode
        self._off_until = 0.0

    def wanted(self, priority: Priority) -> bool:
        """The configuration asks for a paid send at this priority."""
        return self._mode == "all" or (self._mode == "urgent" and priority is Priority.URGENT)

    def applies(self, priority: Priority) -> bool:
        """Send this one paid now (wanted, and not fallen back)."""
        return self.wanted(priority) and time.monotonic() >= self._off_until

    def just_fell_back(self, priority: Priority) -> bool:
        """A send of this priority goes free now, but its permit may have been a paid
        one (taken in the last ``JUST_FELL_BACK`` seconds, before the fall-back)."""
        since = time.monotonic() - (self._off_until - RETRY_PAID_AFTER)
        return self.wanted(priority) and not self.applies(priority) and since < JUST_FELL_BACK

    def refused(self, description: str) -> None:
        PAID_FALLBACK.inc()
        if time.monotonic() >= self._off_until:
            log.warning(
                "telegram refused a paid broadcast (%s): sending at the free rate for %g s",
                description,
                RETRY_PAID_AFTER,
            )
        self._off_until = time.monotonic() + RETRY_PAID_AFTER
