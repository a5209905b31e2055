"""Poll tests drive `palm run` like tests/e2e (fake Bot API, real Synapse)."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from tests.confirm.conftest import palm_in_room
from tests.e2e.conftest import Palm, PalmFactory, fake_tg, make_palm
from tests.fakes.synapse import Synapse, User
from tests.fakes.telegram_api import FakeTelegram
from tests.matrix.conftest import admin, new_user, synapse

__all__ = ["admin", "fake_tg", "make_palm", "new_user", "synapse"]

GROUP_A, GROUP_B = -100801, -100802


async def respond(
    user: User, room: str, start: str, answers: list[str], *, stable: bool = True
) -> str:
    """Vote in a Matrix poll as Element does (stable ``m.poll.response``) or as older
    clients do (``org.matrix.msc3381.poll.response``)."""
    relates = {"rel_type": "m.reference", "event_id": start}
    if stable:
        kind, content = "m.poll.response", {"m.relates_to": relates, "m.selections": answers}
    else:
        kind = "org.matrix.msc3381.poll.response"
        content = {"m.relates_to": relates,
                   "org.matrix.msc3381.poll.response": {"answers": answers}}  # fmt: skip
    path = f"/rooms/{quote(room)}/send/{kind}/{uuid.uuid4().hex}"
    return str((await user.call("PUT", path, content))["event_id"])


async def events_of(user: User, room: str, kind: str) -> list[dict[str, Any]]:
    page = await user.call("GET", f"/rooms/{quote(room)}/messages?dir=b&limit=200")
    found = [e for e in page.get("chunk", []) if e.get("type") == kind]
    found.reverse()
    return found


@dataclass
class Compound:
    """palm with a Matrix room (three residents) and two Telegram groups, all building:5."""

    palm: Palm
    bot: User
    residents: list[User]
    room: str


async def compound(
    make_palm: PalmFactory, fake_tg: FakeTelegram, synapse: Synapse,
    new_user: Callable[..., Any], **extra: Any,
) -> Compound:  # fmt: skip
    bot: User = await new_user("palmbot")
    alice, bob, carol = [await new_user(n) for n in ("alice", "bob", "carol")]
    room = await alice.create_room(invite=[bot.user_id, bob.user_id, carol.user_id],
                                   name="Building 5")  # fmt: skip
    await bob.join(room)
    await carol.join(room)
    targets = [
        {"id": f"matrix:{room}", "tags": ["building:5"], "title": "Building 5 (Matrix)"},
        {"id": f"telegram:{GROUP_A}", "tags": ["building:5"], "title": "5 north"},
        {"id": f"telegram:{GROUP_B}", "tags": ["building:5"], "title": "5 south"},
    ]
    palm = await palm_in_room(make_palm, fake_tg, synapse, bot, alice, room,
                              targets=targets, **extra)  # fmt: skip
    return Compound(palm, bot, [alice, bob, carol], room)
