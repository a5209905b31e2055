"""``m.room.message`` events: text, files, locations and commands, as ``InboundMessage``.

Pure and defensive like ``normalize`` (which calls ``message_event`` for each timeline
event it does not handle otherwise): an edit (``m.replace``) carries its new content,
a reply's quoted fallback is dropped, and anything malformed is counted and ``None``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from adapters.matrix.fields import as_dict, as_num, as_str, malformed
from adapters.matrix.media import file_ref
from adapters.matrix.rooms import Me, RoomInfo
from gateway.models import (
    Attachment,
    AttachmentKind,
    Command,
    InboundMessage,
    Location,
    Platform,
    PlatformMessageId,
    Sender,
    UserId,
    make_target_id,
)

PLATFORM = Platform("matrix")

_ATTACHMENT_KINDS = {
    "m.image": AttachmentKind.PHOTO,
    "m.file": AttachmentKind.FILE,
    "m.audio": AttachmentKind.VOICE,
    "m.video": AttachmentKind.VIDEO,
}
_TEXT_TYPES = frozenset({"m.text", "m.notice", "m.emote"})
_COMMANDS = {
    "report": Command.REPORT,
    "报修": Command.REPORT,
    "ask": Command.ASK,
    "start": Command.START,
    "help": Command.HELP,
    "unit": Command.UNIT,
    "房号": Command.UNIT,
}
_COMMAND_RE = re.compile(
    r"^/(report|报修|ask|start|help|unit|房号)(?:@\S+)?(?:\s+|$)", re.IGNORECASE
)
# Staff-room commands, also with ``!`` (Element treats a leading ``/`` as its own command).
_STAFF_COMMANDS = {
    "claim": Command.CLAIM,
    "resolve": Command.RESOLVE,
    "queue": Command.QUEUE,
    "announce": Command.ANNOUNCE,
    "confirm": Command.CONFIRM,
    "handled": Command.HANDLED,
    "retry": Command.RETRY,
}
_STAFF_RE = re.compile(
    r"^[/!](claim|resolve|queue|announce|confirm|handled|retry)(?:\s+|$)", re.IGNORECASE
)
_GEO_RE = re.compile(r"^geo:(-?\d+(?:\.\d+)?),(-?\d+(?:\.\d+)?)")


def strip_reply_fallback(body: str) -> str:
    """Drop the ``> <@user> quoted`` lines clients prepend to a reply's body."""
    lines = body.split("\n")
    if not lines or not lines[0].startswith("> <"):
        return body
    i = 0
    while i < len(lines) and lines[i].startswith(">"):
        i += 1
    if i < len(lines) and lines[i] == "":
        i += 1
    return "\n".join(lines[i:])


def _mentions(content: Mapping[str, Any], text: str, me: Me) -> bool:
    mentioned = as_dict(content.get("m.mentions")).get("user_ids")
    if isinstance(mentioned, list) and me.user_id in mentioned:
        return True
    if me.user_id in text:
        return True
    name = me.display_name
    return bool(name) and name is not None and name.casefold() in text.casefold()


def _command(text: str) -> tuple[Command | None, str]:
    m = _COMMAND_RE.match(text)
    if m:
        return _COMMANDS[m.group(1).lower()], text[m.end() :]
    m = _STAFF_RE.match(text)
    if m:
        return _STAFF_COMMANDS[m.group(1).lower()], text[m.end() :]
    return None, text


def _attachment(msgtype: str, content: Mapping[str, Any]) -> Attachment | None:
    # In an encrypted room the file is encrypted too: ``file`` holds its URL and key,
    # both kept in the reference (``media``), or staff could never open it.
    file = content.get("file")
    url = file_ref(file) if isinstance(file, Mapping) else as_str(content.get("url"))
    if not url:
        return None
    info = as_dict(content.get("info"))
    size = as_num(info.get("size"))
    return Attachment(
        kind=_ATTACHMENT_KINDS[msgtype],
        ref=url,
        name=as_str(content.get("filename")) or as_str(content.get("body")),
        mime=as_str(info.get("mimetype")),
        size=int(size) if size is not None else None,
    )


def _location(content: Mapping[str, Any]) -> Location | None:
    m = _GEO_RE.match(as_str(content.get("geo_uri")) or "")
    if not m:
        return None
    lat, lon = float(m.group(1)), float(m.group(2))
    if not (-90 <= lat <= 90 and -180 <= lon <= 180):
        return None
    return Location(lat, lon, as_str(content.get("body")) or None)


def message_event(
    room_id: str, ev: Mapping[str, Any], me: Me, info: RoomInfo, names: Mapping[str, str]
) -> InboundMessage | None:
    """One ``m.room.message`` -> ``InboundMessage``; ``None`` when it is not one for us."""
    sender, event_id = as_str(ev.get("sender")), as_str(ev.get("event_id"))
    if ev.get("type") != "m.room.message":
        return None
    if not sender or not event_id or not isinstance(ev.get("content"), Mapping):
        malformed(room_id, event_id, "a message without sender, event_id or content")
        return None
    if sender == me.user_id:
        return None
    content = as_dict(ev.get("content"))
    relates = as_dict(content.get("m.relates_to"))
    edit_of: str | None = None
    if relates.get("rel_type") == "m.replace":
        edit_of = as_str(relates.get("event_id"))
        content = as_dict(content.get("m.new_content"))
        if not edit_of or not content:
            return None
    if not content:
        return None  # a redacted message keeps an empty content: nothing to take
    msgtype = as_str(content.get("msgtype"))
    if msgtype is None:
        malformed(room_id, event_id, "a message without a string msgtype")
        return None
    body = as_str(content.get("body")) or ""
    attachments: tuple[Attachment, ...] = ()
    location: Location | None = None
    if msgtype in _TEXT_TYPES:
        text = strip_reply_fallback(body)
    elif msgtype in _ATTACHMENT_KINDS:
        att = _attachment(msgtype, content)
        if att is None:
            malformed(room_id, event_id, "a file without a URL (or, encrypted, without its key)")
            return None
        attachments = (att,)
        # ``body`` is the caption only when a separate ``filename`` names the file.
        text = body if as_str(content.get("filename")) and body != att.name else ""
    elif msgtype == "m.location":
        location = _location(content)
        if location is None:
            return None
        text = ""
    else:
        return None
    reply = as_str(as_dict(relates.get("m.in_reply_to")).get("event_id"))
    if relates.get("rel_type") == "m.thread":
        # In a thread, what it belongs to is the thread's root (a staff-room card).
        reply = as_str(relates.get("event_id")) or reply
    command, rest = _command(text)
    ts = as_num(ev.get("origin_server_ts"))
    return InboundMessage(
        platform=PLATFORM,
        dedupe_key=event_id,
        target=make_target_id(PLATFORM, room_id),
        chat_kind=info.kind,
        message_id=PlatformMessageId(event_id),
        sender=Sender(UserId(sender), names.get(sender) or sender.partition(":")[0][1:] or sender),
        text=rest if command else text,
        sent_at=ts / 1000.0 if ts is not None else 0.0,
        chat_title=info.title,
        reply_to=PlatformMessageId(reply) if reply else None,
        mentions_bot=_mentions(content, text, me),
        command=command,
        attachments=attachments,
        location=location,
        edit_of=PlatformMessageId(edit_of) if edit_of else None,
    )
