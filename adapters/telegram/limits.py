"""Telegram's limits as shared ``RateRule`` values, and which key a 429 pauses.

Telegram's Bots FAQ: about 30 messages per second per bot, 1 per second in one chat,
20 per minute in one group. Palm reads them as exact rolling windows per bot (the
keys name the bot id, so every palm process on one Redis shares them).

Why the windows carry a margin: Telegram counts a send when the request arrives, and
palm cannot see when that is. A free send counts in palm's shared log from the answer's
arrival (``gateway.ratelimit``: ``until_sent``), which is after the request's, so the
bot-wide window needs only ``BOT_MARGIN`` for clock rounding. Paid sends (1,000/s) count
from just before the request leaves, to save a Redis script per send; their margins
absorb the arrival jitter. The per-chat and per-group margins stay as they were, so a
chat's pace does not change with the kind of send.

The bot-wide rule is spread (``RateRule.spread``): sends go out on an even grid of
(1 + ``BOT_MARGIN``)/30 s instead of in bursts of 30. A burst makes 30 requests race
through the event loop and the network at once; their answers then come late, and a
window that counts from the answers would free its slots late. Before free sends
counted from their answers, bursts needed a 0.15 s margin (0.87 of the limit) and the
grid 0.05 (0.95); counted from the answers, the grid reaches 0.98-0.99 with 0
violations, also beside a CPU hog on every core (``bench.fanout_limits``, bench/README.md).

Which key a 429 pauses: Telegram's 429 says only ``retry_after``, not which limit was
hit. Palm's own limiter keeps the published limits, so a 429 means Telegram's hidden
flood control for that chat (the common case, e.g. a chat's short-burst allowance) or,
if many chats are refused at once, for the whole bot. So a 429 pauses that chat's key;
when ``STORM_CHATS`` different chats are refused within ``STORM_WINDOW`` seconds the
whole bot key is paused instead (unlike PTB's AIORateLimiter, which pauses every chat
on any single 429).
"""

from __future__ import annotations

import time
from collections import deque

from gateway.models import ChatKind, RateRule

JITTER_MARGIN = 0.15
"""Added to the per-chat (1/s) and per-group (20/min) windows."""
BOT_MARGIN = 0.005
"""Added to the bot-wide (30/s) window. Free sends count from their answer
(``gateway.ratelimit``), so arrival jitter needs no margin; this absorbs clock rounding
(Redis time in whole ms) and the two clocks' drift."""
PAID_MARGIN = 0.05
"""Added to the 1,000/s paid window: one send per ms leaves no grid to absorb jitter."""
BOT_SPREAD = True
"""Space the bot-wide sends evenly (``RateRule.spread``) instead of letting them burst."""
BOT_PER_SECOND = 30
PAID_PER_SECOND = 1000
"""``allow_paid_broadcast`` (``paid``): every send of the bot, paid or free, counts here."""
PAID_PACE = True
"""Pace the paid sends of each process on an even grid (``RateRule.pace``)."""
GROUP_PER_MINUTE = 20
STORM_CHATS = 3
STORM_WINDOW = 1.0


def bot_key(bot_id: int) -> str:
    return f"telegram:{bot_id}:bot"


def paid_key(bot_id: int) -> str:
    return f"telegram:{bot_id}:paid"


def chat_key(bot_id: int, chat_id: str) -> str:
    return f"telegram:{bot_id}:chat:{chat_id}"


def group_key(bot_id: int, chat_id: str) -> str:
    return f"telegram:{bot_id}:group:{chat_id}"


def is_group(chat_id: str, kind: ChatKind) -> bool:
    # Group, supergroup and channel ids are negative; trust the id over a stale kind.
    return kind is ChatKind.GROUP or chat_id.startswith("-")


def rules_for(
    bot_id: int, chat_id: str, kind: ChatKind, *, paid: bool = False, paid_on: bool = False
) -> tuple[RateRule, ...]:
    """The rules of one send. ``paid``: it carries ``allow_paid_broadcast`` (1,000/s
    instead of 30/s); ``paid_on``: some sends of this bot may, so a free one counts in
    the 1,000/s too (Telegram's ceiling is over every send of the bot).

    The 1,000/s rule is paced in each process (``RateRule.pace``) rather than spread:
    its grid step (1 ms) is the shared limiter's resolution.
    """
    rules: list[RateRule] = []
    if paid:
        rules.append(
            RateRule(
                paid_key(bot_id), PAID_PER_SECOND, 1.0 + PAID_MARGIN, bot_wide=True, pace=PAID_PACE
            )
        )
    else:
        rules.append(
            RateRule(
                bot_key(bot_id), BOT_PER_SECOND, 1.0 + BOT_MARGIN, spread=BOT_SPREAD, bot_wide=True
            )
        )
        if paid_on:
            rules.append(RateRule(paid_key(bot_id), PAID_PER_SECOND, 1.0 + PAID_MARGIN))
    rules.append(RateRule(chat_key(bot_id, chat_id), 1, 1.0 + JITTER_MARGIN))
    if is_group(chat_id, kind):
        rules.append(RateRule(group_key(bot_id, chat_id), GROUP_PER_MINUTE, 60.0 + JITTER_MARGIN))
    return tuple(rules)


class FloodTracker:
    """Decides the scope of a 429: the chat, or the whole bot during a storm."""

    def __init__(self, bot_id: int) -> None:
        self._bot_id = bot_id
        self._recent: deque[tuple[float, str]] = deque()

    def scope_for(self, chat_id: str) -> str:
        now = time.monotonic()
        self._recent.append((now, chat_id))
        while self._recent and self._recent[0][0] < now - STORM_WINDOW:
            self._recent.popleft()
        if len({c for _, c in self._recent}) >= STORM_CHATS:
            return bot_key(self._bot_id)
        return chat_key(self._bot_id, chat_id)
