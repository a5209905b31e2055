"""The ticket page's "Sent to the resident" list: each of palm's sends, in words, in order.

The ticket's outbound record (``ticket:<id>:outbound``) holds every delivery of origin
``ticket``, and the resident sees every one of them in their chat:

    T-3:ack              the acknowledgement ("Received: ticket T-3 ...")
    T-3:reply:<n>        a staff reply
    T-3:resolved         the resolution
    T-3:status:claimed:<entry>   in a group chat, the acknowledgement edited in place
    T-3:status:resolved:<entry>  ("Status: being handled by ...", "Status: resolved after ...";
                         ``gateway.staffroom.feed``). Not the staff room's card: its edits
                         have origin ``staffroom`` and are never recorded here.

Replies and the resolution carry their text. The acknowledgement and its edits do not
(only their delivery result is recorded), so they are named in words, never by their
delivery id. Those also carry no time, so their place in the list comes from the
ticket's own times: received, first claimed, resolved. An edit overtaken by a newer one
(state ``superseded``) never reached the chat: its words say it was not made.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from gateway.outbox.model import SUPERSEDED

ACK = "acknowledgement"
STATUS_EDITS = {
    "claimed": "acknowledgement updated: being handled",
    "resolved": "acknowledgement updated: resolved",
}
NOT_MADE = {
    "claimed": "acknowledgement not updated to “being handled”: a later update replaced it",
    "resolved": "acknowledgement not updated to “resolved”: a later update replaced it",
}
NOT_MADE_OTHER = "update not made: a later one replaced it"
UNKNOWN = "message from palm"
# After a tie on time: the acknowledgement first, its "being handled" edit before the
# reply that claimed the ticket, the resolution before its "resolved" edit.
_RANK = {"ack": 0, "status:claimed": 1, "reply": 2, "resolved": 3, "status:resolved": 4}


@dataclass(frozen=True, slots=True)
class Sent:
    state: str
    text: str | None
    """What was sent, as sent (a reply, the resolution)."""
    words: str | None
    """Else what it was, as English words for the translator."""
    reason: str | None


def _suffix(tid: str, delivery_id: str) -> str:
    """``T-3:status:claimed:<entry>`` (or, stored before, ``T-3:status:claimed``) ->
    ``status:claimed``; ``T-3:reply:2`` -> ``reply``."""
    rest = delivery_id.removeprefix(f"{tid}:")
    if rest.startswith("status:"):
        return ":".join(rest.split(":")[:2])
    return "reply" if rest.startswith("reply:") else rest


def _first(history: list[dict[str, Any]], action: str) -> float | None:
    return next((float(h["at"]) for h in history if h.get("action") == action), None)


def _when(detail: dict[str, Any], suffix: str, entry: dict[str, Any]) -> float:
    if entry.get("at"):
        return float(entry["at"])
    received = float(detail["received_at"])
    history = detail.get("history") or []
    if suffix == "status:claimed":
        return _first(history, "claimed") or received
    if suffix == "status:resolved":
        return detail.get("resolved_at") or _first(history, "resolved") or received
    return received


def sent_to_resident(detail: dict[str, Any]) -> list[Sent]:
    """The ticket's outbound record (``TicketStore.detail``) as the page lists it."""
    tid = str(detail["id"])
    rows: list[tuple[float, int, Sent]] = []
    for entry in detail.get("outbound") or []:
        suffix = _suffix(tid, str(entry.get("delivery_id") or ""))
        text = entry.get("text") or None
        state = str(entry.get("state") or "queued")
        words, reason = None, entry.get("reason")
        if state == SUPERSEDED:
            # Not sent: the words say so in the page's language (the reason is English).
            text, reason = None, None
            words = NOT_MADE.get(suffix.removeprefix("status:"), NOT_MADE_OTHER)
        elif text is None:
            if suffix == "ack":
                words = ACK
            elif suffix.startswith("status:"):
                words = STATUS_EDITS.get(suffix.removeprefix("status:"), UNKNOWN)
            else:
                words = UNKNOWN
        sent = Sent(state, text, words, reason)
        rows.append((_when(detail, suffix, entry), _RANK.get(suffix, 5), sent))
    rows.sort(key=lambda r: (r[0], r[1]))
    return [sent for _, _, sent in rows]
