"""Acknowledgements and help texts never take more than half of a bot's send rate.

The outbox sends them through the same shared limiter as announcements, and each of
their sends also counts against an extra rule: half the bot-wide rule's limit over the
same window (the key is the bot's, suffixed). So however many residents write at once,
automatic answers get at most every other permit and an announcement waiting behind
them keeps at least half the bot's rate. (The cap also holds when no announcement
waits: automatic answers are then slower than they could be, by design simpler and
never over the contract.) Staff replies are not automatic answers and are not capped.
"""

from __future__ import annotations

from collections.abc import Sequence

from gateway.models import RateRule

AUTO_ORIGINS = frozenset({"help", "admission", "parked"})
"""Outbox origins that are automatic answers (ticket acks are recognised by id)."""


def is_auto_reply(origin: str, delivery_id: str) -> bool:
    return origin in AUTO_ORIGINS or (origin == "ticket" and delivery_id.endswith(":ack"))


def auto_reply_rules(rules: Sequence[RateRule]) -> tuple[RateRule, ...]:
    """The extra rules an automatic answer counts against: half of each bot-wide rule."""
    return tuple(
        RateRule(f"{r.key}:auto", max(1, r.limit // 2), r.window, spread=r.spread)
        for r in rules
        if r.bot_wide
    )
