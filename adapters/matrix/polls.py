"""MSC3381 polls (stable in Matrix v1.7 as ``m.poll.*``): contents out, responses in.

Sent events are of the stable types and carry the unstable ``org.matrix.msc3381.*``
blocks too, which Element and older clients read. Responses are read in both forms.
Answer ids are the options' 0-based indexes as text, the same numbers Telegram uses.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from gateway.models import (
    Platform,
    PollSpec,
    PollVote,
    Sender,
    UserId,
    make_target_id,
)

PLATFORM = Platform("matrix")
START = "m.poll.start"
END = "m.poll.end"
RESPONSES = frozenset({"m.poll.response", "org.matrix.msc3381.poll.response"})


def start_content(poll: PollSpec, fallback: str) -> dict[str, Any]:
    most = len(poll.options) if poll.multiple else 1
    stable = {
        "kind": "m.disclosed",
        "max_selections": most,
        "question": {"m.text": [{"body": poll.question}]},
        "answers": [{"m.id": str(n), "m.text": [{"body": o}]} for n, o in enumerate(poll.options)],
    }
    unstable = {
        "kind": "org.matrix.msc3381.poll.disclosed",
        "max_selections": most,
        "question": {"org.matrix.msc1767.text": poll.question, "body": poll.question},
        "answers": [
            {"id": str(n), "org.matrix.msc1767.text": o} for n, o in enumerate(poll.options)
        ],
    }
    return {
        "m.poll": stable,
        "m.text": [{"body": fallback}],
        "org.matrix.msc3381.poll.start": unstable,
        "org.matrix.msc1767.text": fallback,
        "body": fallback,
        "msgtype": "m.text",
    }


def end_content(start_event: str, text: str) -> dict[str, Any]:
    return {
        "m.relates_to": {"rel_type": "m.reference", "event_id": start_event},
        "m.text": [{"body": text}],
        "org.matrix.msc3381.poll.end": {},
        "org.matrix.msc1767.text": text,
        "body": text,
    }


def poll_vote(room_id: str, ev: Mapping[str, Any], bot_user: str, name: str) -> PollVote | None:
    """A stable or unstable poll response; ``None`` for anything malformed. Selections
    that are not answer ids (a spoiled ballot) come out as a retraction: MSC3381 says
    such a response voids the sender's vote."""
    sender, event_id, content = ev.get("sender"), ev.get("event_id"), ev.get("content")
    if not isinstance(sender, str) or not isinstance(event_id, str) or sender == bot_user:
        return None
    if not isinstance(content, Mapping):
        return None
    relates = content.get("m.relates_to")
    if not isinstance(relates, Mapping) or not isinstance(relates.get("event_id"), str):
        return None
    picked = content.get("m.selections")
    if picked is None:
        unstable = content.get("org.matrix.msc3381.poll.response")
        picked = unstable.get("answers") if isinstance(unstable, Mapping) else None
    if not isinstance(picked, list):
        return None
    options = tuple(int(p) for p in picked if isinstance(p, str) and p.isdigit())
    if len(options) != len(picked):
        options = ()
    ts = ev.get("origin_server_ts")
    return PollVote(
        platform=PLATFORM,
        dedupe_key=event_id,
        poll_ref=str(relates["event_id"]),
        sender=Sender(UserId(sender), name or sender.partition(":")[0][1:] or sender),
        options=tuple(dict.fromkeys(options)),
        sent_at=ts / 1000.0 if isinstance(ts, int | float) else 0.0,
        target=make_target_id(PLATFORM, room_id),
    )
