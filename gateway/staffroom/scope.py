"""Which staff rooms see a ticket: the room's scope judged on the ticket's chat.

Pure. A room's scope is an account-style scope (``gateway.accounts.Scope``, one rule
for every scope in palm) judged on the ticket's chat, with its tags and kind:
``compound:guanmei`` sees the tickets from chats tagged so; no scope sees everything.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from functools import lru_cache

from gateway.accounts import Scope
from gateway.errors import ConfigError, GatewayError
from gateway.staffroom.config import StaffRoomConfig


@lru_cache(maxsize=64)
def room_scope(expr: str | None) -> Scope | None:
    return Scope.parse(expr)


def permits(scope: str | None, tags: Iterable[str], *, group: bool) -> bool:
    """Whether a room with ``scope`` sees tickets from a chat carrying ``tags``."""
    parsed = room_scope(scope)
    return parsed is None or parsed.permits_tags(tags, group=group)


def rooms_for(
    rooms: Sequence[StaffRoomConfig], target: str, tags: Iterable[str], *, group: bool
) -> list[StaffRoomConfig]:
    """The staff rooms a ticket from ``target`` shows in (never the room itself)."""
    tags = list(tags)
    return [r for r in rooms if r.target != target and permits(r.scope, tags, group=group)]


def check_scopes(rooms: Sequence[StaffRoomConfig]) -> None:
    """At start: every room's scope parses, else a ``ConfigError`` naming the key."""
    for n, room in enumerate(rooms):
        try:
            room_scope(room.scope)
        except GatewayError as exc:
            raise ConfigError(exc.message, key=f"staff_rooms[{n}].scope") from None
