"""Which staff rooms see a ticket: the room's scope evaluated on the ticket's chat.

Pure. The scope is an audience expression evaluated on one chat, with its tags:
``compound:guanmei`` sees the tickets from chats tagged so; no scope sees everything.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from gateway import audience
from gateway.staffroom.config import StaffRoomConfig


def permits(scope: str | None, target: str, tags: Iterable[str], *, group: bool) -> bool:
    """Whether a room with ``scope`` sees tickets from ``target`` (carrying ``tags``)."""
    if scope is None:
        return True
    expr = audience.parse(scope)
    one = {target}
    tagged = {tag: set(one) for tag in tags}
    return bool(audience.evaluate(expr, active=one, groups=one if group else set(), tagged=tagged))


def rooms_for(
    rooms: Sequence[StaffRoomConfig], target: str, tags: Iterable[str], *, group: bool
) -> list[StaffRoomConfig]:
    """The staff rooms a ticket from ``target`` shows in (never the room itself)."""
    tags = list(tags)
    return [r for r in rooms if r.target != target and permits(r.scope, target, tags, group=group)]
