"""Why a delivery failed, or why a chat went inactive, in words a staff member reads.

The reasons palm stores are for operators and programs: English, and often the platform's
own text ("Forbidden: bot was blocked by the user", "matrix send: M_FORBIDDEN: ..."). The
console shows the words from here first, in the page's language, and the stored text
beside them, small, for whoever has to ask the operator. A reason no rule knows gets
``UNKNOWN`` before it where the stored text is shown too (``said``), so a staff member
reads their own language first and the platform's words after. Pure: no I/O, so the
rules are tested on their own.

Each rule is a regular expression over the stored text (case-insensitive) and an English
sentence that is also a key of ``gateway.console.i18n.ZH``. The first rule that matches
wins, so the specific ones come first. The patterns follow the texts palm writes
(``gateway.outbox.attempts``, ``gateway.admission``) and the adapters' translations
(``adapters/telegram/errors.py``, ``adapters/*/normalize.py``, ``adapters/matrix/errors.py``).
"""

from __future__ import annotations

import re

from gateway.console.i18n import translator

_RULES: tuple[tuple[str, str], ...] = (
    # palm's own outcomes
    (r"superseded by a later edit", "Replaced by a later edit."),
    (r"dead-lettered", "Given up: palm stopped while sending it, several times."),
    (r"^ambiguous", "No answer after sending: it may have arrived."),
    (r"^internal error", "An internal error: the operator finds it in palm's log."),
    (r"chat migrated twice", "The group was upgraded twice while sending."),
    (r"could not leave", "Rejected, but the bot could not leave the chat."),
    # the resident or the chat
    (r"blocked by the user", "The resident has blocked the bot."),
    (r"user is deactivated", "The resident's account was deleted."),
    (r"kicked|removed from the chat|banned by", "The bot was removed from this chat."),
    (r"left the room", "The bot left this room."),
    (r"chat not found|peer_id_invalid|room not found|room gone", "This chat no longer exists."),
    (
        r"not enough rights|have no rights|chat_write_forbidden|not allowed in this room",
        "The bot may not post in this chat.",
    ),
    # the message
    (r"message is too long|m_too_large", "The message is too long for the platform."),
    (
        r"message can't be deleted|message to delete not found",
        "Too old to recall: Telegram lets a bot recall its messages for 48 hours.",
    ),
    (
        r"message can't be edited|message to edit not found|no message to edit",
        "This message can no longer be changed on the platform.",
    ),
    (r"cannot redact", "The room did not let the bot remove the message."),
    (r"encryption is off", "An encrypted room, and palm's encryption is switched off."),
    (r"unverified device", "The room has devices nobody has verified (trust: verified)."),
    # the platform
    (r"too many requests|rate limited|m_limit_exceeded", "The platform asked palm to slow down."),
    (r"unreachable|no answer", "The platform could not be reached."),
)
_COMPILED = tuple((re.compile(p, re.IGNORECASE), words) for p, words in _RULES)
_TRIES = re.compile(r"^gave up after (\d+) tries: (.*)$", re.DOTALL)
_INACTIVE = re.compile(r"^target inactive: (.*)$", re.DOTALL)

UNKNOWN = "Not delivered. The platform said:"
"""Before a stored reason no rule knows."""

WORDS = (
    *(words for _, words in _RULES),
    "Not sent after {n} tries.",
    "The chat is no longer active.",
    UNKNOWN,
)
"""Every sentence this module can return (each must have its Chinese)."""


def explain(reason: str | None, lang: str) -> str | None:
    """Words for ``reason`` in ``lang``, or ``None`` when no rule knows it (the page then
    shows the stored text alone)."""
    if not reason:
        return None
    t = translator(lang)
    if (m := _TRIES.match(reason)) is not None:
        # The last try's reason says why; the count says it was not for want of trying.
        inner = explain(m.group(2), lang)
        tries = t("Not sent after {n} tries.", n=m.group(1))
        return f"{inner}{'' if lang == 'zh' else ' '}{tries}" if inner else tries
    if (m := _INACTIVE.match(reason)) is not None:
        return explain(m.group(1), lang) or t("The chat is no longer active.")
    for pattern, words in _COMPILED:
        if pattern.search(reason):
            return t(words)
    return None


def said(reason: str, lang: str) -> str:
    """One line for a place that shows a single text: the words, or for a reason no rule
    knows ``UNKNOWN`` and the stored text."""
    gap = "" if lang == "zh" else " "
    return explain(reason, lang) or f"{translator(lang)(UNKNOWN)}{gap}{reason}"
