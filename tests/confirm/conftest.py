"""Confirmation tests drive `palm run` like tests/e2e (fake Bot API, real Synapse)."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from tests.e2e.conftest import Palm, PalmFactory, eventually, fake_tg, make_palm
from tests.fakes.synapse import Synapse, User
from tests.fakes.telegram_api import FakeTelegram
from tests.matrix.conftest import admin, new_user, synapse
from tests.staffroom.conftest import matrix_config

__all__ = ["admin", "fake_tg", "make_palm", "new_user", "synapse"]

GROUP = -100777


async def react(user: User, room: str, event_id: str, key: str = "✅") -> str:
    content = {"m.relates_to": {"rel_type": "m.annotation", "event_id": event_id, "key": key}}
    path = f"/rooms/{quote(room)}/send/m.reaction/{uuid.uuid4().hex}"
    return str((await user.call("PUT", path, content))["event_id"])


async def reactions(user: User, room: str) -> list[dict[str, Any]]:
    page = await user.call("GET", f"/rooms/{quote(room)}/messages?dir=b&limit=100")
    return [e for e in page.get("chunk", []) if e.get("type") == "m.reaction"]


async def palm_in_room(
    make_palm: PalmFactory, fake_tg: FakeTelegram, synapse: Synapse, bot: User, member: User,
    room: str, **extra: Any,
) -> Palm:  # fmt: skip
    """Start palm (fake Telegram, ``bot`` on Synapse) and wait until the bot is in ``room``."""
    palm = make_palm(telegram=fake_tg, matrix=matrix_config(synapse, bot), **extra)
    palm.env["PALM_TEST_MATRIX_PASSWORD"] = bot.password
    palm.start()
    await palm.ready()

    async def joined() -> bool:
        return (await member.members(room)).get(bot.user_id) == "join"

    await eventually(joined, limit=30, what="the bot to join the room")
    return palm


@dataclass
class Building:
    """A running palm with a Matrix room (three residents) and a Telegram group,
    both tagged building:5."""

    palm: Palm
    bot: User
    residents: list[User]
    room: str


async def building(
    make_palm: PalmFactory, fake_tg: FakeTelegram, synapse: Synapse,
    new_user: Callable[..., Any], **extra: Any,
) -> Building:  # fmt: skip
    bot: User = await new_user("palmbot")
    alice, bob, carol = [await new_user(n) for n in ("alice", "bob", "carol")]
    room = await alice.create_room(invite=[bot.user_id, bob.user_id, carol.user_id],
                                   name="Building 5")  # fmt: skip
    await bob.join(room)
    await carol.join(room)
    targets = [
        {"id": f"matrix:{room}", "tags": ["building:5"], "title": "Building 5 (Matrix)"},
        {"id": f"telegram:{GROUP}", "tags": ["building:5"], "title": "Building 5 group"},
    ]
    palm = await palm_in_room(make_palm, fake_tg, synapse, bot, alice, room,
                              targets=targets, **extra)  # fmt: skip
    return Building(palm, bot, [alice, bob, carol], room)
