"""What the normaliser knows about the bot and its rooms, and the state that changes it.

The sync loop keeps a ``RoomInfo`` per room between batches (incremental syncs omit
state); ``apply_state`` and ``apply_summary`` fold a batch's state into it, and
``invite_allowed`` is the auto-join policy for an invite.

Direct chats: a room is ``direct`` when the bot's own membership event says
``is_direct``, or when the room has no name and at most two members (joined plus
invited). Anything else is a group.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from typing import Any, Literal

from adapters.matrix.fields import as_dict, as_num, as_str
from gateway.models import ChatKind

ENCRYPTED_REASON = "encrypted room: not supported yet"

AutoJoin = Literal["any", "same_server"] | list[str]


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


def apply_state(info: RoomInfo, events: Iterable[Mapping[str, Any]], me: Me) -> RoomInfo:
    """Fold state events (full or stripped) into ``info``."""
    members: dict[str, str] = {}
    for ev in events:
        kind, content = as_str(ev.get("type")), as_dict(ev.get("content"))
        key = as_str(ev.get("state_key"))
        if key is None:
            continue
        if kind == "m.room.name":
            info = replace(info, title=as_str(content.get("name")) or None)
        elif kind == "m.room.encryption":
            info = replace(info, encrypted=True)
        elif kind == "m.room.member":
            membership = as_str(content.get("membership")) or ""
            members[key] = membership
            if key == me.user_id and content.get("is_direct") is True:
                info = replace(info, is_direct=True)
    if members:
        # State carries every member only in full state; merge into the known count.
        present = sum(1 for m in members.values() if m in ("join", "invite"))
        info = replace(info, members=max(info.members, present))
    return info


def apply_summary(info: RoomInfo, summary: Mapping[str, Any]) -> RoomInfo:
    joined = as_num(summary.get("m.joined_member_count"))
    invited = as_num(summary.get("m.invited_member_count"))
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
