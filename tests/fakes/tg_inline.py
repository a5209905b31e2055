"""Inline keyboards, callback queries and chat members for the fake Bot API.

Shapes and rules from the Bot API documentation:

* ``reply_markup`` (``InlineKeyboardMarkup``): ``{"inline_keyboard": [[button, ...], ...]}``;
  each ``InlineKeyboardButton`` has ``text`` and exactly one optional field (here
  ``callback_data``, 1-64 bytes, or ``url``). An empty keyboard is allowed (on an edit it
  removes the buttons).
* A ``callback_query`` update: ``{id, from, message, chat_instance, data}``; the bot must
  answer it with ``answerCallbackQuery(callback_query_id, text?)`` (text 0-200 chars);
  an unknown or already answered id is "query is too old and response timeout expired
  or query ID is invalid".
* ``getChatMember(chat_id, user_id)`` -> a ``ChatMember`` whose ``status`` is
  ``creator``, ``administrator``, ``member``, ``restricted`` (with ``is_member``),
  ``left`` or ``kicked``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

_BUTTON_FIELDS = (
    "url",
    "callback_data",
    "web_app",
    "login_url",
    "switch_inline_query",
    "switch_inline_query_current_chat",
    "switch_inline_query_chosen_chat",
    "copy_text",
    "callback_game",
    "pay",
)
_ADMIN_RIGHTS = (
    "is_anonymous", "can_manage_chat", "can_delete_messages", "can_manage_video_chats",
    "can_restrict_members", "can_promote_members", "can_change_info", "can_invite_users",
    "can_post_stories", "can_edit_stories", "can_delete_stories",
)  # fmt: skip
"""The required fields of ``ChatMemberAdministrator`` besides status, user, can_be_edited."""
QUERY_INVALID = "Bad Request: query is too old and response timeout expired or query ID is invalid"


class InlineError(Exception):
    def __init__(self, description: str) -> None:
        super().__init__(description)
        self.description = description


def check_markup(raw: Any) -> dict[str, Any] | None:
    """Validate ``reply_markup`` as an inline keyboard; ``None`` when absent."""
    if raw is None or raw == "":
        return None
    if not isinstance(raw, dict) or not isinstance(raw.get("inline_keyboard"), list):
        raise InlineError("Bad Request: can't parse reply keyboard markup JSON object")
    for row in raw["inline_keyboard"]:
        if not isinstance(row, list):
            raise InlineError(
                "Bad Request: can't parse inline keyboard button: row is not an array"
            )
        for button in row:
            if not isinstance(button, dict) or not isinstance(button.get("text"), str):
                raise InlineError(
                    "Bad Request: can't parse inline keyboard button: Text must be non-empty"
                )
            used = [f for f in _BUTTON_FIELDS if f in button]
            if len(used) != 1:
                raise InlineError(
                    "Bad Request: can't parse inline keyboard button: "
                    "InlineKeyboardButton must have exactly one optional field"
                )
            data = button.get("callback_data")
            if data is not None and not 1 <= len(str(data).encode()) <= 64:
                raise InlineError("Bad Request: BUTTON_DATA_INVALID")
    return raw


def buttons_of(markup: dict[str, Any] | None) -> list[tuple[str, str]]:
    """(label, callback_data) of every button, row by row."""
    if not markup:
        return []
    return [
        (b["text"], str(b.get("callback_data", "")))
        for row in markup.get("inline_keyboard", [])
        for b in row
    ]


@dataclass
class Members:
    """Who is in which chat, as ``getChatMember`` answers; unknown users have ``left``."""

    status: dict[tuple[int, int], str] = field(default_factory=dict)
    counts: dict[int, int] = field(default_factory=dict)
    """``getChatMemberCount`` per chat (the bot included, as Telegram counts)."""

    def set(self, chat_id: int, user_id: int, status: str = "member") -> None:
        self.status[(chat_id, user_id)] = status

    def count(self, chat_id: int) -> int:
        """Set with ``counts``; else the members ``set`` here who are in, plus the bot."""
        if chat_id in self.counts:
            return self.counts[chat_id]
        inside = ("member", "administrator", "creator", "restricted")
        return 1 + sum(1 for (c, _), s in self.status.items() if c == chat_id and s in inside)

    def member(self, chat_id: int, user: dict[str, Any]) -> dict[str, Any]:
        status = self.status.get((chat_id, int(user["id"])), "left")
        out: dict[str, Any] = {"status": status, "user": user}
        if status == "restricted":
            out.update(is_member=True, until_date=0)
        if status == "kicked":
            out["until_date"] = 0
        if status == "creator":
            out["is_anonymous"] = False
        if status == "administrator":
            out.update(dict.fromkeys(_ADMIN_RIGHTS, False), can_be_edited=False)
        return out


@dataclass
class Callbacks:
    """Callback queries handed out and their answers."""

    pending: dict[str, dict[str, Any]] = field(default_factory=dict)
    answers: dict[str, str | None] = field(default_factory=dict)
    next_id: int = 1

    def new(self, user: dict[str, Any], message: dict[str, Any], data: str) -> dict[str, Any]:
        qid = f"cq{self.next_id}"
        self.next_id += 1
        query = {
            "id": qid,
            "from": user,
            "message": message,
            "chat_instance": f"ci{message['chat']['id']}",
            "data": data,
        }
        self.pending[qid] = query
        return query

    def answer(self, p: dict[str, Any]) -> bool:
        qid = str(p.get("callback_query_id") or "")
        if not qid:
            raise InlineError('Bad Request: parameter "callback_query_id" is required')
        if qid not in self.pending or qid in self.answers:
            raise InlineError(QUERY_INVALID)
        text = p.get("text")
        if text is not None and len(str(text)) > 200:
            raise InlineError("Bad Request: MESSAGE_TOO_LONG")
        self.answers[qid] = None if text is None else str(text)
        return True
