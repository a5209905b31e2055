"""What staff rooms and residents' groups are shown: pure rendering, no I/O.

A card is plain text (user text is never interpreted as markup) with, on Telegram,
**Claim** / **Resolve** buttons while the ticket is open. Its text is rebuilt from the
ticket's fields at every change, so an edit always shows the whole current state.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from gateway.models import Button
from gateway.rules import category_words
from gateway.staffroom.words import say as _t

CLAIM = "claim"
RESOLVE = "resolve"
CONFIRM = "confirm"
"""Button data; the ticket comes from the message the button is under."""

FIRST_WORDS = 200


def took(seconds: float, lang: str) -> str:
    """``1 h 30 min`` (``1 小时 30 分钟``); under a minute counts as one minute."""
    minutes = max(1, round(seconds / 60))
    h, m = divmod(minutes, 60)
    if lang == "zh":
        return (f"{h} 小时 " if h else "") + (f"{m} 分钟" if m or not h else "").strip()
    parts = ([f"{h} h"] if h else []) + ([f"{m} min"] if m or not h else [])
    return " ".join(parts)


@dataclass(frozen=True, slots=True)
class CardView:
    """The ticket fields a card shows (from the ticket's Redis hash)."""

    ticket: str
    status: str
    priority: str
    category: str
    resident: str
    platform: str
    chat_kind: str
    chat_title: str
    text: str
    attachments: int
    assignee: str
    answered_by: str
    answered_at: float
    """The first staff answer (``first_response_at``); 0 before."""
    note: str
    received_at: float
    resolved_at: float
    resolved_by: str

    @classmethod
    def from_hash(
        cls, h: dict[str, str], *, attachments: int = 0, answered_by: str = ""
    ) -> CardView:
        def num(name: str) -> float:
            return float(h.get(name) or 0)

        return cls(
            ticket=h["id"],
            status=h.get("status", "new"),
            priority=h.get("priority", "normal"),
            category=h.get("category", "other"),
            resident=h.get("resident_name", "?"),
            platform=h.get("platform", "?"),
            chat_kind=h.get("chat_kind", "group"),
            chat_title=h.get("chat_title", ""),
            text=h.get("text", ""),
            attachments=attachments,
            assignee=h.get("assignee", ""),
            answered_by=answered_by,
            answered_at=num("first_response_at"),
            note=h.get("note", ""),
            received_at=num("received_at"),
            resolved_at=num("resolved_at"),
            resolved_by=h.get("resolved_by", ""),
        )


def _first_words(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= FIRST_WORDS else text[: FIRST_WORDS - 1] + "…"


def card_text(v: CardView, lang: str) -> str:
    where = _t(lang, "direct") if v.chat_kind == "direct" else (v.chat_title or _t(lang, "group"))
    # Staff read words in their room's language, not palm's codes (``fire-safety``).
    priority = _t(lang, v.priority) if v.priority in ("urgent", "normal") else v.priority
    lines = [
        f"{v.ticket} · {priority} · {category_words(v.category, lang)}",
        _t(lang, "from", who=v.resident, platform=v.platform, where=where),
    ]
    if v.text:
        lines.append(f"“{_first_words(v.text)}”")
    if v.attachments:
        lines.append(f"📎 {v.attachments} {_t(lang, 'attachments')}")
    lines.append(status_line(v, lang))
    return "\n".join(lines)


def status_line(v: CardView, lang: str) -> str:
    if v.status == "resolved":
        line = "✅ " + _t(
            lang,
            "resolved",
            who=v.resolved_by or "?",
            took=took(v.resolved_at - v.received_at, lang),
        )
        if v.answered_by:
            line += " · " + _answered(v, lang)
        if v.note:
            line += "\n" + _t(lang, "note", note=v.note)
        return line
    if v.answered_by:
        return "💬 " + _answered(v, lang)
    if v.status == "claimed":
        return "🔧 " + _t(lang, "claimed", who=v.assignee or "?")
    return "🆕 " + _t(lang, "new")


def _answered(v: CardView, lang: str) -> str:
    """Who answered last, and when the first answer came (palm's local time)."""
    when = time.strftime("%H:%M", time.localtime(v.answered_at)) if v.answered_at else "?"
    return _t(lang, "answered", who=v.answered_by, when=when)


def card_buttons(v: CardView, lang: str) -> tuple[Button, ...]:
    """Claim (while new) and Resolve (while open); none once resolved."""
    if v.status == "resolved":
        return ()
    out = [] if v.status != "new" else [Button(_t(lang, "claim"), CLAIM)]
    return (*out, Button(_t(lang, "resolve"), RESOLVE))


def follow_up_text(v: CardView, message: dict[str, Any], lang: str) -> str:
    """A resident's follow-up as posted under the card."""
    head = _t(lang, "follow", ticket=v.ticket, who=v.resident)
    body = str(message.get("text") or "")
    n = len(message.get("attachments") or [])
    extra = f"\n📎 {n} {_t(lang, 'attachments')}" if n else ""
    return f"{head}\n{body}{extra}".strip()


def group_status_text(ack: str, v: CardView, lang: str) -> str | None:
    """The resident's group acknowledgement with the ticket's status; ``None`` while new."""
    if v.status == "resolved":
        return (
            f"{ack}\n{_t(lang, 'status_resolved', took=took(v.resolved_at - v.received_at, lang))}"
        )
    if v.status == "claimed":
        return f"{ack}\n{_t(lang, 'status_claimed', who=v.assignee or '?')}"
    return None
