"""A poll's values and the texts residents see (numbered fallback, result)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, NewType

from gateway.errors import InputError
from gateway.safety.inert import visible

PollId = NewType("PollId", str)
"""``P-<n>``."""

ORIGIN = "poll"
OPEN, CLOSED = "open", "closed"
MAX_QUESTION = 300  # Telegram's limits for sendPoll, the stricter platform
MAX_OPTION = 100
MIN_OPTIONS, MAX_OPTIONS = 2, 10


def parse_id(raw: str) -> PollId:
    raw = raw.strip().upper()
    if not raw.startswith("P-") or not raw[2:].isdigit():
        raise InputError(
            f"{raw!r} is not a poll id (like P-3)",
            zh=f"「{visible(raw, one_line=True)}」不是投票编号（应像 P-3 这样）",
        )
    return PollId(raw)


def check(question: str, options: list[str]) -> None:
    if not question.strip():
        raise InputError("the question is empty", zh="问题是空的")
    if len(question) > MAX_QUESTION:
        raise InputError(
            f"the question is longer than {MAX_QUESTION} characters",
            zh=f"问题超过了 {MAX_QUESTION} 个字符",
        )
    if not MIN_OPTIONS <= len(options) <= MAX_OPTIONS:
        raise InputError(
            f"a poll needs {MIN_OPTIONS} to {MAX_OPTIONS} options",
            zh=f"投票需要 {MIN_OPTIONS} 到 {MAX_OPTIONS} 个选项",
        )
    for o in options:
        if not o.strip() or len(o) > MAX_OPTION:
            raise InputError(
                f"option {o!r}: 1 to {MAX_OPTION} characters",
                zh=f"选项「{visible(o, one_line=True)}」应为 1 到 {MAX_OPTION} 个字符",
            )
    if len({o.strip() for o in options}) != len(options):
        raise InputError("two options are the same", zh="有两个选项是一样的")


@dataclass(frozen=True, slots=True)
class Poll:
    id: PollId
    question: str
    options: tuple[str, ...]
    multiple: bool
    audience: str
    state: str
    created_at: float
    closes_at: float | None
    closed_at: float | None
    created_by: str
    target_count: int

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "question": self.question,
            "options": list(self.options),
            "multiple": self.multiple,
            "to": self.audience,
            "state": self.state,
            "created_at": self.created_at,
            "closes_at": self.closes_at,
            "closed_at": self.closed_at,
            "created_by": self.created_by,
            "target_count": self.target_count,
        }

    @classmethod
    def from_hash(cls, poll_id: str, h: dict[str, str]) -> Poll:
        return cls(
            PollId(poll_id),
            h.get("question", ""),
            tuple(json.loads(h.get("options") or "[]")),
            h.get("multiple") == "1",
            h.get("audience", ""),
            h.get("state", OPEN),
            float(h.get("created_at") or 0),
            float(h["closes_at"]) if h.get("closes_at") else None,
            float(h["closed_at"]) if h.get("closed_at") else None,
            h.get("created_by", ""),
            int(h.get("target_count") or 0),
        )


def fallback_text(question: str, options: tuple[str, ...], multiple: bool) -> str:
    """What a chat without a native poll shows: numbered options, reply with a number."""
    lines = [f"📊 {question}", ""]
    lines += [f"{n}. {o}" for n, o in enumerate(options, 1)]
    how = "一个或多个编号（如 1 3）" if multiple else "一个编号"
    how_en = "one or more numbers (like 1 3)" if multiple else "the number of your choice"
    lines += ["", f"回复本消息写上{how}即可投票。", f"Reply to this message with {how_en} to vote."]
    return "\n".join(lines)


def result_text(poll: Poll, counts: list[int], voters: int) -> str:
    """The result posted in every chat at closing (also the fallback's "voting is over")."""
    lines = [f"📊 投票已结束 / Voting is over: {poll.question}", ""]
    lines += [
        f"{n}. {o}: {c}" for n, (o, c) in enumerate(zip(poll.options, counts, strict=True), 1)
    ]
    lines += ["", f"投票人数 / Residents who voted: {voters}"]
    return "\n".join(lines)


def numbered_choice(text: str, n_options: int, multiple: bool) -> tuple[int, ...] | None:
    """A reply like ``2`` (or ``1 3`` for a multiple-answer poll) as 0-based options;
    ``None`` when the reply is not a vote (then it is a comment)."""
    parts = text.replace(",", " ").replace(",", " ").split()
    if not parts or not all(p.isdigit() for p in parts):
        return None
    picked = tuple(dict.fromkeys(int(p) - 1 for p in parts))
    if any(not 0 <= p < n_options for p in picked) or (len(picked) > 1 and not multiple):
        return None
    return picked
