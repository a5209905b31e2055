"""``staff_rooms:`` in the config: the chats where staff work the queue.

Pure pydantic, imported by ``gateway.config``: nothing here may import the rest of
the gateway at module level (the config is loaded before anything else exists).
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from pydantic import BaseModel, ConfigDict, field_validator

from gateway.models import TargetId


class StaffRoomConfig(BaseModel):
    """One staff room: ``{target: "matrix:!abc:example.org", scope: "compound:guanmei"}``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    target: str
    scope: str | None = None
    """An audience expression bounding the tickets this room sees; none: every ticket."""

    @field_validator("target")
    @classmethod
    def _target(cls, v: str) -> str:
        if not re.match(r"^(telegram:-?\d+|matrix:!.+)$", v):
            raise ValueError(f"expected telegram:<group chat id> or matrix:<room id>, got {v!r}")
        return v

    @field_validator("scope")
    @classmethod
    def _scope(cls, v: str | None) -> str | None:
        # The expression's grammar is checked by ``check_scopes`` at start: importing
        # the parser here would tie the config module to the target directory.
        if v is not None and not v.strip():
            raise ValueError("an empty scope: leave the key out for every ticket")
        return v.strip() if v is not None else None


def staff_room_ids(rooms: Sequence[StaffRoomConfig]) -> frozenset[TargetId]:
    return frozenset(TargetId(r.target) for r in rooms)
