"""Bot API updates (raw JSON dicts) -> the core's inbound events. Pure: no I/O.

``normalize(update, me)`` never raises. An update of no interest (an unknown update
type, group chatter, a channel post) is skipped with a debug log. An update whose shape
is wrong (not an object, a field of the wrong type) is *malformed*: it is counted in
``palm_inbound_malformed_total{platform="telegram"}`` and logged once at warning with
its update id and the reason, never the content.

Group privacy: even with privacy mode off, group chatter that is not addressed to the
bot (no command of ours, no mention, not a reply to one of the bot's messages) is
dropped here, so it is neither stored nor logged.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, TypeGuard

from gateway.metrics import INBOUND_MALFORMED
from gateway.models import (
    Attachment,
    AttachmentKind,
    ButtonPress,
    ChatKind,
    Command,
    InboundEvent,
    InboundMessage,
    Location,
    Platform,
    PlatformMessageId,
    PollVote,
    Sender,
    TargetGone,
    TargetId,
    TargetMigrated,
    TargetSeen,
    UserId,
    make_target_id,
)

log = logging.getLogger(__name__)

TELEGRAM = Platform("telegram")

_COMMANDS = {
    "report": Command.REPORT,
    "ask": Command.ASK,
    "start": Command.START,
    "help": Command.HELP,
    "claim": Command.CLAIM,
    "resolve": Command.RESOLVE,
    "queue": Command.QUEUE,
    "announce": Command.ANNOUNCE,
    "confirm": Command.CONFIRM,
    "handled": Command.HANDLED,
    "retry": Command.RETRY,
    "unit": Command.UNIT,
}
# Not latin, so Telegram never marks it as a bot_command entity: matched as plain text.
_TEXT_COMMANDS = (("/报修", Command.REPORT), ("/房号", Command.UNIT))
_COMMAND_RE = re.compile(r"/(?P<name>[A-Za-z0-9_]{1,32})(?:@(?P<bot>[A-Za-z0-9_]{1,64}))?(?=\s|$)")
_MEMBER = frozenset({"member", "administrator", "creator"})
_GROUP_TYPES = frozenset({"group", "supergroup", "channel"})


@dataclass(frozen=True, slots=True)
class BotIdentity:
    """Who the bot is (from ``getMe``): needed to see mentions and its own messages."""

    id: int
    username: str


class _Skip(Exception):
    """This update is of no interest; the reason goes to the debug log."""


class _Malformed(_Skip):
    """This update's shape is wrong: counted and logged at warning."""


def normalize(update: object, me: BotIdentity) -> list[InboundEvent]:
    """Turn one update into zero or more events. Never raises."""
    update_id = update.get("update_id") if isinstance(update, dict) else None
    try:
        if not isinstance(update, dict) or not _is_int(update_id):
            raise _Malformed("not an update object")
        return _normalize(update, int(update_id), me)
    except _Malformed as why:
        _malformed(update_id, str(why))
    except _Skip as why:
        log.debug("telegram update %s skipped: %s", update_id, why)
    except Exception as exc:
        _malformed(update_id, type(exc).__name__)
    return []


def _malformed(update_id: object, reason: str) -> None:
    INBOUND_MALFORMED.labels(platform="telegram").inc()
    shown = update_id if _is_int(update_id) else "?"
    log.warning("telegram update %s cannot be normalised: %s", shown, reason)


def _normalize(update: Mapping[str, Any], update_id: int, me: BotIdentity) -> list[InboundEvent]:
    if "message" in update:
        return _message(_map(update["message"]), update_id, me, edited=False)
    if "edited_message" in update:
        return _message(_map(update["edited_message"]), update_id, me, edited=True)
    if "my_chat_member" in update:
        return [_membership(_map(update["my_chat_member"]))]
    if "callback_query" in update:
        return [_button(_map(update["callback_query"]), update_id)]
    if "poll_answer" in update:
        return [_poll_answer(_map(update["poll_answer"]), update_id)]
    kinds = [k for k in update if k != "update_id"]
    raise _Skip(f"unhandled update type {kinds[:1]}")


# --- small safe accessors ------------------------------------------------------
# JSON objects decode to ``dict`` (webhook body, getUpdates answer): the checks test for
# ``dict``, not ``Mapping``, whose ABC check cost a third of a flood's normalising.


def _is_int(value: object) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool)


def _map(value: object) -> Mapping[str, Any]:
    if not isinstance(value, dict):
        raise _Malformed("expected an object")
    return value


def _opt_map(parent: Mapping[str, Any], key: str) -> Mapping[str, Any] | None:
    value = parent.get(key)
    return value if isinstance(value, dict) else None


def _int(parent: Mapping[str, Any], key: str) -> int:
    value = parent.get(key)
    if not _is_int(value):
        raise _Malformed(f"{key} is not an integer")
    return int(value)


def _str(parent: Mapping[str, Any], key: str) -> str | None:
    value = parent.get(key)
    return value if isinstance(value, str) else None


def _num(parent: Mapping[str, Any], key: str) -> float:
    value = parent.get(key)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _Malformed(f"{key} is not a number")
    return float(value)


# --- chats and people ----------------------------------------------------------


def _target(chat_id: int) -> TargetId:
    return make_target_id("telegram", str(chat_id))


def _chat_kind(chat: Mapping[str, Any]) -> ChatKind:
    kind = _str(chat, "type")
    if kind == "private":
        return ChatKind.DIRECT
    if kind in _GROUP_TYPES:
        return ChatKind.GROUP
    raise _Malformed("unknown chat type")


def _sender(msg: Mapping[str, Any]) -> Sender:
    user = _opt_map(msg, "from")
    if user is None:
        # An anonymous group admin or a channel posts as a chat.
        chat = _opt_map(msg, "sender_chat") or _map(msg.get("chat"))
        return Sender(UserId(str(_int(chat, "id"))), _str(chat, "title") or "anonymous")
    names = [n for n in (_str(user, "first_name"), _str(user, "last_name")) if n]
    name = " ".join(names) or _str(user, "username") or str(_int(user, "id"))
    return Sender(
        user_id=UserId(str(_int(user, "id"))),
        display_name=name,
        language=_str(user, "language_code"),
        is_bot=user.get("is_bot") is True,
    )


# --- messages ----------------------------------------------------------------


def _message(
    msg: Mapping[str, Any], update_id: int, me: BotIdentity, *, edited: bool
) -> list[InboundEvent]:
    chat = _map(msg.get("chat"))
    chat_id = _int(chat, "id")
    migrated = _migration(msg, chat_id)
    if migrated is not None:
        return [migrated]
    kind = _chat_kind(chat)
    if _str(chat, "type") == "channel":
        raise _Skip("channel post")
    text = _str(msg, "text") or _str(msg, "caption") or ""
    entities = msg.get("entities") if "text" in msg else msg.get("caption_entities")
    command, body = _command(text, me)
    mentions = _mentions(text, entities, me)
    reply = _opt_map(msg, "reply_to_message")
    reply_from = _opt_map(reply, "from") if reply else None
    replies_to_bot = reply_from is not None and reply_from.get("id") == me.id
    if kind is ChatKind.GROUP and not (command or mentions or replies_to_bot):
        raise _Skip("group chatter not addressed to the bot")
    attachments = _attachments(msg)
    location = _location(msg)
    if not text and not attachments and location is None:
        raise _Skip("no text, media or location")
    message_id = PlatformMessageId(str(_int(msg, "message_id")))
    sent_at = msg.get("edit_date") if edited else msg.get("date")
    return [
        InboundMessage(
            platform=TELEGRAM,
            dedupe_key=f"u{update_id}",
            target=_target(chat_id),
            chat_kind=kind,
            message_id=message_id,
            sender=_sender(msg),
            text=body,
            sent_at=float(sent_at) if _is_int(sent_at) else _num(msg, "date"),
            chat_title=_str(chat, "title"),
            reply_to=PlatformMessageId(str(_int(reply, "message_id"))) if reply else None,
            mentions_bot=mentions,
            command=command,
            attachments=attachments,
            location=location,
            edit_of=message_id if edited else None,
        )
    ]


def _button(query: Mapping[str, Any], update_id: int) -> ButtonPress:
    """A ``callback_query``: an inline button pressed under one of the bot's messages."""
    msg = _opt_map(query, "message")
    data = _str(query, "data")
    if msg is None or data is None:
        raise _Skip("callback query without its message or data (inline mode, a game)")
    chat = _map(msg.get("chat"))
    return ButtonPress(
        platform=TELEGRAM,
        dedupe_key=f"u{update_id}",
        target=_target(_int(chat, "id")),
        message_id=PlatformMessageId(str(_int(msg, "message_id"))),
        sender=_sender(query),
        data=data,
        query_id=_str(query, "id") or "",
        sent_at=time.time(),
    )


def _poll_answer(answer: Mapping[str, Any], update_id: int) -> PollVote:
    """A ``poll_answer``: a user changed their vote in a non-anonymous poll the bot sent.

    It names the poll, not the chat; an empty ``option_ids`` is a retracted vote. A
    vote cast as a chat (``voter_chat``, anonymous group admins) has no user: skipped.
    """
    user = _opt_map(answer, "user")
    if user is None:
        raise _Skip("poll answer on behalf of a chat")
    ids = answer.get("option_ids")
    if not isinstance(ids, list) or not all(_is_int(i) for i in ids):
        raise _Skip("poll answer without option_ids")
    return PollVote(
        platform=TELEGRAM,
        dedupe_key=f"u{update_id}",
        poll_ref=_str(answer, "poll_id") or "",
        sender=_sender({"from": user}),
        options=tuple(int(i) for i in ids),
        sent_at=time.time(),  # a poll_answer has no date: when it reached palm
    )


def _migration(msg: Mapping[str, Any], chat_id: int) -> TargetMigrated | None:
    """The service messages of a group -> supergroup upgrade (sent in both chats)."""
    if _is_int(msg.get("migrate_to_chat_id")):
        return TargetMigrated(_target(chat_id), _target(_int(msg, "migrate_to_chat_id")))
    if _is_int(msg.get("migrate_from_chat_id")):
        return TargetMigrated(_target(_int(msg, "migrate_from_chat_id")), _target(chat_id))
    return None


def _command(text: str, me: BotIdentity) -> tuple[Command | None, str]:
    """``/report@palm_bot  the hydrant`` -> (REPORT, "the hydrant")."""
    for prefix, command in _TEXT_COMMANDS:
        if text.startswith(prefix):
            return command, text[len(prefix) :].strip()
    m = _COMMAND_RE.match(text)
    if m is None:
        return None, text
    botname = m.group("bot")
    if botname is not None and botname.lower() != me.username.lower():
        return None, text  # a command for another bot in the same group
    found = _COMMANDS.get(m.group("name").lower())
    return (found, text[m.end() :].strip()) if found else (None, text)


def _utf16_slice(text: str, offset: int, length: int) -> str:
    """Entity offsets count UTF-16 code units, not Python characters."""
    raw = text.encode("utf-16-le")
    return raw[offset * 2 : (offset + length) * 2].decode("utf-16-le", errors="replace")


def _mentions(text: str, entities: object, me: BotIdentity) -> bool:
    handle = "@" + me.username.lower()
    if isinstance(entities, list):
        for e in entities:
            if not isinstance(e, dict):
                continue
            if e.get("type") == "text_mention":
                user = _opt_map(e, "user")
                if user is not None and user.get("id") == me.id:
                    return True
            if e.get("type") == "mention" and _is_int(e.get("offset")) and _is_int(e.get("length")):
                found = _utf16_slice(text, e["offset"], e["length"])
                if found.lower() == handle:
                    return True
        return False
    # No entities at all (hand-made updates): fall back to the plain text.
    return handle in text.lower()


def _largest_photo(sizes: object) -> Attachment | None:
    if not isinstance(sizes, list):
        return None
    best: Mapping[str, Any] | None = None
    best_area = -1
    for size in sizes:
        if not isinstance(size, dict) or not isinstance(size.get("file_id"), str):
            continue
        w, h = size.get("width"), size.get("height")
        area = w * h if _is_int(w) and _is_int(h) else 0
        if area >= best_area:
            best, best_area = size, area
    if best is None:
        return None
    fsize = best.get("file_size")
    return Attachment(AttachmentKind.PHOTO, best["file_id"], size=fsize if _is_int(fsize) else None)


def _file(msg: Mapping[str, Any], key: str, kind: AttachmentKind) -> Attachment | None:
    obj = _opt_map(msg, key)
    if obj is None or not isinstance(obj.get("file_id"), str):
        return None
    fsize = obj.get("file_size")
    return Attachment(
        kind,
        obj["file_id"],
        name=_str(obj, "file_name"),
        mime=_str(obj, "mime_type"),
        size=fsize if _is_int(fsize) else None,
    )


def _attachments(msg: Mapping[str, Any]) -> tuple[Attachment, ...]:
    found = [
        _largest_photo(msg.get("photo")),
        _file(msg, "document", AttachmentKind.FILE),
        _file(msg, "voice", AttachmentKind.VOICE),
        _file(msg, "audio", AttachmentKind.VOICE),
        _file(msg, "video", AttachmentKind.VIDEO),
    ]
    return tuple(a for a in found if a is not None)


def _location(msg: Mapping[str, Any]) -> Location | None:
    venue = _opt_map(msg, "venue")
    where = _opt_map(venue, "location") if venue else _opt_map(msg, "location")
    if where is None:
        return None
    title = _str(venue, "title") if venue else None
    return Location(_num(where, "latitude"), _num(where, "longitude"), title)


# --- membership --------------------------------------------------------------


def _membership(update: Mapping[str, Any]) -> InboundEvent:
    chat = _map(update.get("chat"))
    target = _target(_int(chat, "id"))
    kind = _chat_kind(chat)
    new = _map(update.get("new_chat_member"))
    status = _str(new, "status")
    if status in _MEMBER or (status == "restricted" and new.get("is_member") is True):
        return TargetSeen(target, kind, _str(chat, "title"))
    if status == "kicked":
        reason = "bot was blocked by the user" if kind is ChatKind.DIRECT else "bot was kicked"
        return TargetGone(target, reason)
    if status in ("left", "restricted"):
        return TargetGone(target, "bot was removed from the chat")
    raise _Malformed("unknown member status")
