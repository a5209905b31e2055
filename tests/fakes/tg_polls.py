"""Native polls for the fake Bot API, shaped as the Bot API documents them.

``sendPoll`` (question 1-300 characters; ``options``: a JSON list of 2-10
``InputPollOption``, each ``text`` 1-100 characters; ``is_anonymous`` defaults to
true; ``allows_multiple_answers``) returns a ``Message`` with a ``poll``. ``stopPoll``
(``chat_id``, ``message_id``) returns the stopped ``Poll``. A user's vote in a
non-anonymous poll the bot sent reaches the bot as a ``poll_answer`` update
(``poll_id``, ``user``, ``option_ids`` and, since Bot API 9.6,
``option_persistent_ids``; empty lists: the vote was retracted); anonymous polls send
none. Channels take no non-anonymous polls. Bot API 9.6/10.0 made ``PollOption.
persistent_id`` and ``Poll.allows_revoting``/``members_only`` always present.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Any


class PollError(Exception):
    def __init__(self, description: str) -> None:
        super().__init__(description)
        self.description = f"Bad Request: {description}"


@dataclass
class FakePoll:
    id: str
    chat_id: int
    message_id: int
    question: str
    options: list[str]
    is_anonymous: bool
    allows_multiple_answers: bool
    is_closed: bool = False
    votes: dict[int, list[int]] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        counts = [0] * len(self.options)
        for picked in self.votes.values():
            for o in picked:
                counts[o] += 1
        return {
            "id": self.id,
            "question": self.question,
            "options": [
                {"persistent_id": self.option_id(n), "text": t, "voter_count": c}
                for n, (t, c) in enumerate(zip(self.options, counts, strict=True))
            ],
            "total_voter_count": sum(1 for v in self.votes.values() if v),
            "is_closed": self.is_closed,
            "is_anonymous": self.is_anonymous,
            "type": "regular",
            "allows_multiple_answers": self.allows_multiple_answers,
            "allows_revoting": True,
            "members_only": False,
        }

    def option_id(self, n: int) -> str:
        return f"{self.id}-{n}"


def _flag(value: Any, default: bool) -> bool:
    if value is None or value == "":
        return default
    if isinstance(value, bool):
        return value
    return str(value).lower() == "true"


class Polls:
    def __init__(self) -> None:
        self.by_id: dict[str, FakePoll] = {}
        self.by_message: dict[tuple[int, int], FakePoll] = {}
        self.channels: set[int] = set()
        """Chats that are channels: they refuse non-anonymous polls."""
        self._ids = itertools.count(5_000_000_000_000_000_001)

    def check_send(self, p: dict[str, Any], chat_id: int) -> tuple[str, list[str], bool, bool]:
        question = str(p.get("question") or "")
        if not question:
            raise PollError("poll question must be non-empty")
        if len(question) > 300:
            raise PollError("poll question length must not exceed 300")
        raw = p.get("options")
        if not isinstance(raw, list):
            raise PollError("options must be a JSON-serialized list")
        options = [str(o.get("text") if isinstance(o, dict) else o or "") for o in raw]
        if len(options) < 2:
            raise PollError("poll must have at least 2 option")
        if len(options) > 10:
            raise PollError("poll can't have more than 10 options")
        if any(not o or len(o) > 100 for o in options):
            raise PollError("poll options length must not exceed 100")
        anonymous = _flag(p.get("is_anonymous"), True)
        if not anonymous and chat_id in self.channels:
            raise PollError("non-anonymous polls can't be sent to channel chats")
        return question, options, anonymous, _flag(p.get("allows_multiple_answers"), False)

    def new(self, p: dict[str, Any], chat_id: int, message_id: int) -> FakePoll:
        question, options, anonymous, multiple = self.check_send(p, chat_id)
        poll = FakePoll(str(next(self._ids)), chat_id, message_id, question, options,
                        anonymous, multiple)  # fmt: skip
        self.by_id[poll.id] = poll
        self.by_message[(chat_id, message_id)] = poll
        return poll

    def stop(self, chat_id: int, message_id: int) -> dict[str, Any]:
        poll = self.by_message.get((chat_id, message_id))
        if poll is None:
            raise PollError("message with poll to stop not found")
        if poll.is_closed:
            raise PollError("poll has already been closed")
        poll.is_closed = True
        return poll.to_json()

    def answer(self, poll_id: str, user: dict[str, Any], option_ids: list[int]) -> dict[str, Any]:
        """A user votes (``[]``: retracts); returns the ``poll_answer`` update body, or
        raises when Telegram would not send one (anonymous or closed poll, bad option)."""
        poll = self.by_id[poll_id]
        if poll.is_closed:
            raise PollError("poll is closed")  # the app does not let anyone vote
        if poll.is_anonymous:
            raise PollError("anonymous polls report no poll_answer")
        if any(not 0 <= o < len(poll.options) for o in option_ids) or (
            len(option_ids) > 1 and not poll.allows_multiple_answers
        ):
            raise PollError("invalid option_ids")
        poll.votes[int(user["id"])] = list(option_ids)
        return {
            "poll_id": poll.id,
            "user": user,
            "option_ids": list(option_ids),
            "option_persistent_ids": [poll.option_id(o) for o in option_ids],
        }
