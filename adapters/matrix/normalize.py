"""Pure translation of Matrix ``/sync`` JSON into the core's inbound model.

No I/O and no exceptions: every accessor checks types, so a malformed or unknown
event is skipped, never a crash (a hypothesis test feeds arbitrary JSON). Unknown
event types are skipped quietly; a *malformed* one (not an object, no string ``type``,
an ``m.room.message`` without a string sender, event id or msgtype, a room entry that
is not an object) is counted in ``palm_inbound_malformed_total{platform="matrix"}`` and
logged once at warning with the room and event id, never its content. The sync
loop keeps the per-room facts (``RoomInfo``, ``adapters.matrix.rooms``) between
batches and does the I/O that follows from a batch (joining invited rooms,
backfilling limited timelines).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from typing import Any

from adapters.matrix.fields import as_dict, as_list, as_str, malformed
from adapters.matrix.messages import PLATFORM, message_event
from adapters.matrix.polls import RESPONSES, poll_vote
from adapters.matrix.reactions import reaction_event
from adapters.matrix.rooms import (
    AutoJoin,
    Me,
    RoomInfo,
    apply_state,
    apply_summary,
    encrypted_reason,
    invite_allowed,
)
from gateway.models import (
    InboundEvent,
    TargetGone,
    TargetId,
    TargetSeen,
    make_target_id,
)


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


def _events(section: Any, room_id: str) -> list[Mapping[str, Any]]:
    raw = as_dict(section).get("events")
    if raw is None:
        return []
    if not isinstance(raw, list):
        malformed(room_id, None, "events is not a list")
        return []
    for item in raw:
        if not isinstance(item, Mapping):
            malformed(room_id, None, "an event that is not an object")
    return as_list(raw)


def _membership_change(
    target: TargetId, ev: Mapping[str, Any], me: Me, info: RoomInfo
) -> InboundEvent | None:
    """The bot's own membership: joined -> TargetSeen, left/kicked/banned -> TargetGone."""
    content = as_dict(ev.get("content"))
    membership, sender = as_str(content.get("membership")), as_str(ev.get("sender")) or "?"
    reason = as_str(content.get("reason"))
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
        kind, key = as_str(ev.get("type")), as_str(ev.get("state_key"))
        if kind is None:
            malformed(room_id, ev.get("event_id"), "an event without a string type")
            continue
        if key is not None:
            before = info
            info = apply_state(info, [ev], me)
            if kind == "m.room.member":
                name = as_str(as_dict(ev.get("content")).get("displayname"))
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
            name = names.get(as_str(ev.get("sender")) or "", "")
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
        key = as_str(ev.get("state_key"))
        name = as_str(as_dict(ev.get("content")).get("displayname"))
        if ev.get("type") == "m.room.member" and key and name:
            out[key] = name
    return out


def normalize_sync(
    body: Mapping[str, Any], me: Me, known: Mapping[str, RoomInfo], policy: AutoJoin
) -> Batch:
    """A whole ``/sync`` response -> events in order, room facts, joins and backfills."""
    rooms = as_dict(as_dict(body).get("rooms"))
    events: list[InboundEvent] = []
    infos: dict[str, RoomInfo] = {}
    backfills: list[Backfill] = []
    for room_id, room in as_dict(rooms.get("join")).items():
        if not isinstance(room_id, str) or not isinstance(room, Mapping):
            malformed(room_id, None, "a joined room that is not an object")
            continue
        state = _events(room.get("state"), room_id)
        timeline = as_dict(room.get("timeline"))
        info = apply_state(known.get(room_id, RoomInfo()), state, me)
        info = apply_summary(info, as_dict(room.get("summary")))
        tl_events = _events(timeline, room_id)
        out, info = room_events(room_id, tl_events, me, info, _names(state))
        prev = as_str(timeline.get("prev_batch"))
        if timeline.get("limited") is True and prev:
            backfills.append(Backfill(room_id, prev))
        events += out
        infos[room_id] = info
    for room_id, room in as_dict(rooms.get("leave")).items():
        if not isinstance(room_id, str) or not isinstance(room, Mapping):
            malformed(room_id, None, "a left room that is not an object")
            continue
        info = known.get(room_id, RoomInfo())
        tl = _events(as_dict(room.get("timeline")), room_id) + _events(room.get("state"), room_id)
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
    for room_id, room in as_dict(rooms.get("invite")).items():
        if not isinstance(room_id, str) or not isinstance(room, Mapping):
            malformed(room_id, None, "an invited room that is not an object")
            continue
        stripped = _events(room.get("invite_state"), room_id)
        invite = [
            e
            for e in stripped
            if e.get("type") == "m.room.member" and e.get("state_key") == me.user_id
        ]
        inviter = as_str(invite[-1].get("sender")) if invite else None
        if inviter and invite_allowed(inviter, me, policy):
            joins.append(room_id)
            infos[room_id] = apply_state(known.get(room_id, RoomInfo()), stripped, me)
    return Batch(tuple(events), infos, tuple(joins), tuple(backfills))
