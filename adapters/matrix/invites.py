"""Joining rooms: the sync loop's invites, and an invite a send finds still pending.

A target can be active before palm's sync has accepted the bot's invite (seeded
under ``targets:``, approved meanwhile, or sent to by a process that does not sync).
Synapse refuses such a send with M_FORBIDDEN "not in room", the very answer it gives
for a room the bot was never invited to, so the answer alone cannot tell the two
apart: ``PendingInvites`` asks the server for the bot's invite before joining.
"""

from __future__ import annotations

import json
import logging

import nio

from adapters.matrix import errors
from adapters.matrix.client import get_json
from adapters.matrix.normalize import normalize_sync
from adapters.matrix.rooms import AutoJoin, Me

log = logging.getLogger(__name__)

INVITES_TIMEOUT = 30.0


async def join(client: nio.AsyncClient, room_id: str) -> None:
    """Join ``room_id``; a refusal comes out translated (``errors``)."""
    try:
        resp = await client.join(room_id)
    except errors.TRANSPORT_ERRORS as exc:
        errors.raise_transport(exc, "join")
    if not isinstance(resp, nio.JoinResponse):
        raise errors.from_nio(resp, action="join")


def _invites_filter(room_id: str) -> str:
    """Only the one room, and no events at all: the invite's stripped state is not
    subject to the event filters, so this still carries it (and its inviter)."""
    none = {"not_types": ["*"]}
    room = {
        "rooms": [room_id],
        "timeline": {"limit": 1, **none},
        "state": none,
        "ephemeral": none,
        "account_data": none,
    }
    return json.dumps({"presence": none, "account_data": none, "room": room}, separators=(",", ":"))


class PendingInvites:
    """The send path's way into a room whose invite the sync loop has not accepted yet."""

    def __init__(self, client: nio.AsyncClient, me: Me, policy: AutoJoin) -> None:
        self._client = client
        self._me = me
        self._policy = policy

    async def accept(self, room_id: str) -> bool:
        """Join ``room_id`` if the bot has an invite to it that ``auto_join`` allows;
        whether it did. A refused join raises (``TargetGone``: the invite was withdrawn,
        the bot is banned, the room is gone)."""
        if not await self._pending(room_id):
            return False
        await join(self._client, room_id)
        log.info("matrix: joined %s at a send, before the sync loop got to its invite", room_id)
        return True

    async def _pending(self, room_id: str) -> bool:
        # Invites are only listed by /sync. Without ``since`` it lists every pending one
        # and moves nothing on the server: the sync loop's token is not this one, and
        # Synapse deletes to-device messages only once a later ``since`` acknowledges
        # them, so the device owner's loop still gets its room keys.
        params: dict[str, str | int] = {
            "filter": _invites_filter(room_id),
            "timeout": 0,
            "set_presence": "offline",
        }
        body = await get_json(
            self._client, "/sync", params, timeout=INVITES_TIMEOUT, action="read invites"
        )
        # The sync loop's own reading and rule: the invites it would join.
        return room_id in normalize_sync(body, self._me, {}, self._policy).joins
