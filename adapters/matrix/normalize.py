"""Pure translation of Matrix ``/sync`` JSON into the core's inbound model.

No I/O and no exceptions: every accessor checks types, so a malformed or unknown
event is skipped, never a crash (a hypothesis test feeds arbitrary JSON). Unknown
event types are skipped quietly; a *malformed* one (not an object, no string ``type``,
an ``m.room.message`` without a string sender, event id or msgtype, a room entry that
is not an object) is counted in ``palm_inbound_malformed_total{platform="matrix"}`` and
logged once at warning with the room and event id, never its content. The sync
loop keeps the per-room facts (``RoomInfo``) between batches and does the I/O that
follows from a batch (joining invited rooms, backfilling limited timelines).

Direct chats: a room is ``direct`` when the bot's own membership event says
``is_direct``, or when the room has no name and at most two members (joined plus
invited). Anything else is a group.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from typing import Any, Literal

from adapters.matrix.media import file_ref
from adapters.matrix.polls import RESPONSES, poll_vote
from adapters.matrix.reactions import reaction_event
from gateway.metrics import INBOUND_MALFORMED
from gateway.models import (
    Attachment,
    AttachmentKind,
    ChatKind,
    Command,
    InboundEvent,
    InboundMessage,
    Location,
    Platform,
    PlatformMessageId,
    Sender,
    TargetGone,
    TargetId,
    TargetSeen,
    UserId,
    make_target_id,
)

log = logging.getLogger(__name__)

PLATFORM = Platform("matrix")
ENCRYPTED_REASON = "encrypted room: not supported yet"

AutoJoin = Literal["any", "same_server"] | list[str]

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
}
_STAFF_RE = re.compile(r"^[/!](claim|resolve|queue|announce|confirm)(?:\s+|$)", re.IGNORECASE)
_GEO_RE = re.compile(r"^geo:(-?\d+(?:\.\d+)?),(-?\d+(?:\.\d+)?)")


@dataclass(frozen=True, slots=True)
class Me:
    """The bot's own identity, as the normaliser needs it."""

    user_id: str
    display_name: str | None = None
    e2e: bool = False
    """Encrypted rooms are served (decrypted before normalising): they stay active."""

    @property
    def server(self) -> str:
        return self.user_id.partition(":")[2]


def encrypted_reason(me: Me) -> str | None:
    """Why an encrypted room is inactive: it is not, when palm has end-to-end encryption."""
    return None if me.e2e else ENCRYPTED_REASON


@dataclass(frozen=True, slots=True)
class RoomInfo:
    """What the loop remembers about a room between syncs (incremental syncs omit state)."""

    title: str | None = None
    is_direct: bool = False
    members: int = 0
    encrypted: bool = False

    @property
    def kind(self) -> ChatKind:
        if self.is_direct or (self.title is None and 0 < self.members <= 2):
            return ChatKind.DIRECT
        return ChatKind.GROUP


@dataclass(frozen=True, slots=True)
class Backfill:
    """A ``limited`` timeline: events before ``prev_batch`` were skipped by the server."""

    room_id: str
    prev_batch: str


@dataclass(frozen=True, slots=True)
class Batch:
    """The result of one sync response."""

    events: tuple[InboundEvent, ...]
    rooms: Mapping[str, RoomInfo]
    """Updated facts for the rooms this batch touched."""
    joins: tuple[str, ...]
    """Invited rooms the auto-join policy allows."""
    backfills: tuple[Backfill, ...]


# --- defensive accessors ------------------------------------------------------


def _dict(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _list(value: Any) -> list[Mapping[str, Any]]:
    return [v for v in value if isinstance(v, Mapping)] if isinstance(value, list) else []


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _num(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def malformed(room_id: object, event_id: object, reason: str) -> None:
    """Count and log (once, at warning) something that cannot be normalised."""
    INBOUND_MALFORMED.labels(platform="matrix").inc()
    room = room_id if isinstance(room_id, str) else "?"
    event = event_id if isinstance(event_id, str) else "?"
    log.warning("matrix event %r in %r cannot be normalised: %s", event[:255], room[:255], reason)


def _events(section: Any, room_id: str) -> list[Mapping[str, Any]]:
    raw = _dict(section).get("events")
    if raw is None:
        return []
    if not isinstance(raw, list):
        malformed(room_id, None, "events is not a list")
        return []
    for item in raw:
        if not isinstance(item, Mapping):
            malformed(room_id, None, "an event that is not an object")
    return _list(raw)


# --- room state ---------------------------------------------------------------


def apply_state(info: RoomInfo, events: Iterable[Mapping[str, Any]], me: Me) -> RoomInfo:
    """Fold state events (full or stripped) into ``info``."""
    members: dict[str, str] = {}
    for ev in events:
        kind, content = _str(ev.get("type")), _dict(ev.get("content"))
        key = _str(ev.get("state_key"))
        if key is None:
            continue
        if kind == "m.room.name":
            info = replace(info, title=_str(content.get("name")) or None)
        elif kind == "m.room.encryption":
            info = replace(info, encrypted=True)
        elif kind == "m.room.member":
            membership = _str(content.get("membership")) or ""
            members[key] = membership
            if key == me.user_id and content.get("is_direct") is True:
                info = replace(info, is_direct=True)
    if members:
        # State carries every member only in full state; merge into the known count.
        present = sum(1 for m in members.values() if m in ("join", "invite"))
        info = replace(info, members=max(info.members, present))
    return info


def apply_summary(info: RoomInfo, summary: Mapping[str, Any]) -> RoomInfo:
    joined = _num(summary.get("m.joined_member_count"))
    invited = _num(summary.get("m.invited_member_count"))
    if joined is None and invited is None:
        return info
    return replace(info, members=int((joined or 0) + (invited or 0)))


def invite_allowed(inviter: str, me: Me, policy: AutoJoin) -> bool:
    if policy == "any":
        return True
    server = inviter.partition(":")[2]
    if policy == "same_server":
        return bool(server) and server == me.server
    return inviter in policy or server in policy


# --- messages -----------------------------------------------------------------


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
    mentioned = _dict(content.get("m.mentions")).get("user_ids")
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
    url = file_ref(file) if isinstance(file, Mapping) else _str(content.get("url"))
    if not url:
        return None
    info = _dict(content.get("info"))
    size = _num(info.get("size"))
    return Attachment(
        kind=_ATTACHMENT_KINDS[msgtype],
        ref=url,
        name=_str(content.get("filename")) or _str(content.get("body")),
        mime=_str(info.get("mimetype")),
        size=int(size) if size is not None else None,
    )


def _location(content: Mapping[str, Any]) -> Location | None:
    m = _GEO_RE.match(_str(content.get("geo_uri")) or "")
    if not m:
        return None
    lat, lon = float(m.group(1)), float(m.group(2))
    if not (-90 <= lat <= 90 and -180 <= lon <= 180):
        return None
    return Location(lat, lon, _str(content.get("body")) or None)


def message_event(
    room_id: str, ev: Mapping[str, Any], me: Me, info: RoomInfo, names: Mapping[str, str]
) -> InboundMessage | None:
    """One ``m.room.message`` -> ``InboundMessage``; ``None`` when it is not one for us."""
    sender, event_id = _str(ev.get("sender")), _str(ev.get("event_id"))
    if ev.get("type") != "m.room.message":
        return None
    if not sender or not event_id or not isinstance(ev.get("content"), Mapping):
        malformed(room_id, event_id, "a message without sender, event_id or content")
        return None
    if sender == me.user_id:
        return None
    content = _dict(ev.get("content"))
    relates = _dict(content.get("m.relates_to"))
    edit_of: str | None = None
    if relates.get("rel_type") == "m.replace":
        edit_of = _str(relates.get("event_id"))
        content = _dict(content.get("m.new_content"))
        if not edit_of or not content:
            return None
    if not content:
        return None  # a redacted message keeps an empty content: nothing to take
    msgtype = _str(content.get("msgtype"))
    if msgtype is None:
        malformed(room_id, event_id, "a message without a string msgtype")
        return None
    body = _str(content.get("body")) or ""
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
        text = body if _str(content.get("filename")) and body != att.name else ""
    elif msgtype == "m.location":
        location = _location(content)
        if location is None:
            return None
        text = ""
    else:
        return None
    reply = _str(_dict(relates.get("m.in_reply_to")).get("event_id"))
    if relates.get("rel_type") == "m.thread":
        # In a thread, what it belongs to is the thread's root (a staff-room card).
        reply = _str(relates.get("event_id")) or reply
    command, rest = _command(text)
    ts = _num(ev.get("origin_server_ts"))
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


def _membership_change(
    target: TargetId, ev: Mapping[str, Any], me: Me, info: RoomInfo
) -> InboundEvent | None:
    """The bot's own membership: joined -> TargetSeen, left/kicked/banned -> TargetGone."""
    content = _dict(ev.get("content"))
    membership, sender = _str(content.get("membership")), _str(ev.get("sender")) or "?"
    reason = _str(content.get("reason"))
    if membership == "join":
        return TargetSeen(
            target, info.kind, info.title, encrypted_reason(me) if info.encrypted else None
        )
    if membership not in ("leave", "ban"):
        return None
    if membership == "ban":
        why = f"banned by {sender}"
    elif sender == me.user_id:
        why = "left the room"
    else:
        why = f"kicked by {sender}"
    return TargetGone(target, f"{why}: {reason}" if reason else why)


def room_events(
    room_id: str,
    events: Iterable[Mapping[str, Any]],
    me: Me,
    info: RoomInfo,
    names: Mapping[str, str] | None = None,
) -> tuple[list[InboundEvent], RoomInfo]:
    """Timeline events of one room, in order; state in the timeline updates ``info``."""
    out: list[InboundEvent] = []
    names = dict(names or {})
    target = make_target_id(PLATFORM, room_id)
    for ev in events:
        kind, key = _str(ev.get("type")), _str(ev.get("state_key"))
        if kind is None:
            malformed(room_id, ev.get("event_id"), "an event without a string type")
            continue
        if key is not None:
            before = info
            info = apply_state(info, [ev], me)
            if kind == "m.room.member":
                name = _str(_dict(ev.get("content")).get("displayname"))
                if name:
                    names[key] = name
                if key == me.user_id and (change := _membership_change(target, ev, me, info)):
                    out.append(change)
            elif kind == "m.room.encryption" and not before.encrypted:
                out.append(TargetSeen(target, info.kind, info.title, encrypted_reason(me)))
        elif kind == "m.room.encrypted" and not info.encrypted:
            info = replace(info, encrypted=True)
            out.append(TargetSeen(target, info.kind, info.title, encrypted_reason(me)))
        elif kind in RESPONSES:
            name = names.get(_str(ev.get("sender")) or "", "")
            if (vote := poll_vote(room_id, ev, me.user_id, name)) is not None:
                out.append(vote)
        elif kind == "m.reaction":
            if (press := reaction_event(room_id, ev, me.user_id, names)) is not None:
                out.append(press)
        elif (msg := message_event(room_id, ev, me, info, names)) is not None:
            out.append(msg)
    return out, info


def _names(events: Iterable[Mapping[str, Any]]) -> dict[str, str]:
    out: dict[str, str] = {}
    for ev in events:
        key = _str(ev.get("state_key"))
        name = _str(_dict(ev.get("content")).get("displayname"))
        if ev.get("type") == "m.room.member" and key and name:
            out[key] = name
    return out


def normalize_sync(
    body: Mapping[str, Any], me: Me, known: Mapping[str, RoomInfo], policy: AutoJoin
) -> Batch:
    """A whole ``/sync`` response -> events in order, room facts, joins and backfills."""
    rooms = _dict(_dict(body).get("rooms"))
    events: list[InboundEvent] = []
    infos: dict[str, RoomInfo] = {}
    backfills: list[Backfill] = []
    for room_id, room in _dict(rooms.get("join")).items():
        if not isinstance(room_id, str) or not isinstance(room, Mapping):
            malformed(room_id, None, "a joined room that is not an object")
            continue
        state = _events(room.get("state"), room_id)
        timeline = _dict(room.get("timeline"))
        info = apply_state(known.get(room_id, RoomInfo()), state, me)
        info = apply_summary(info, _dict(room.get("summary")))
        tl_events = _events(timeline, room_id)
        out, info = room_events(room_id, tl_events, me, info, _names(state))
        prev = _str(timeline.get("prev_batch"))
        if timeline.get("limited") is True and prev:
            backfills.append(Backfill(room_id, prev))
        events += out
        infos[room_id] = info
    for room_id, room in _dict(rooms.get("leave")).items():
        if not isinstance(room_id, str) or not isinstance(room, Mapping):
            malformed(room_id, None, "a left room that is not an object")
            continue
        info = known.get(room_id, RoomInfo())
        tl = _events(_dict(room.get("timeline")), room_id) + _events(room.get("state"), room_id)
        mine = [
            e for e in tl if e.get("type") == "m.room.member" and e.get("state_key") == me.user_id
        ]
        gone = (
            _membership_change(make_target_id(PLATFORM, room_id), mine[-1], me, info)
            if mine
            else None
        )
        events.append(gone or TargetGone(make_target_id(PLATFORM, room_id), "left the room"))
    joins: list[str] = []
    for room_id, room in _dict(rooms.get("invite")).items():
        if not isinstance(room_id, str) or not isinstance(room, Mapping):
            malformed(room_id, None, "an invited room that is not an object")
            continue
        stripped = _events(room.get("invite_state"), room_id)
        invite = [
            e
            for e in stripped
            if e.get("type") == "m.room.member" and e.get("state_key") == me.user_id
        ]
        inviter = _str(invite[-1].get("sender")) if invite else None
        if inviter and invite_allowed(inviter, me, policy):
            joins.append(room_id)
            infos[room_id] = apply_state(known.get(room_id, RoomInfo()), stripped, me)
    return Batch(tuple(events), infos, tuple(joins), tuple(backfills))
