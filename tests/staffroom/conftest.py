"""Staff-room tests drive `palm run` like tests/e2e (fake Bot API, real Synapse)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import aiohttp

from tests.e2e.conftest import Palm, PalmFactory, eventually, fake_tg, make_palm
from tests.fakes.synapse import Synapse, User
from tests.fakes.telegram_api import FakeTelegram
from tests.matrix.conftest import admin, new_user, synapse

__all__ = ["admin", "fake_tg", "make_palm", "matrix_config", "new_user", "synapse"]


def matrix_config(synapse: Synapse, bot: User) -> dict[str, Any]:
    return {
        "homeserver": synapse.url, "user_id": bot.user_id,
        "password_env": "PALM_TEST_MATRIX_PASSWORD", "auto_join": "any", "sync_timeout_ms": 1000,
    }  # fmt: skip


def thread(root: str) -> dict[str, Any]:
    """A message in the thread of ``root`` (as Element sends it)."""
    return {
        "m.relates_to": {
            "rel_type": "m.thread",
            "event_id": root,
            "is_falling_back": True,
            "m.in_reply_to": {"event_id": root},
        }
    }


@dataclass
class MatrixStaffRoom:
    """A running palm (fake Telegram + real Synapse) with a Matrix staff room."""

    palm: Palm
    bot: User
    staff: User
    room: str


async def matrix_staff_room(
    make_palm: PalmFactory, fake_tg: FakeTelegram, synapse: Synapse,
    new_user: Callable[..., Any], **extra: Any,
) -> MatrixStaffRoom:  # fmt: skip
    """Staff create a room and invite the bot; palm starts with it as a staff room."""
    bot: User = await new_user("palmbot")
    staff: User = await new_user("secretary")
    room = await staff.create_room(invite=[bot.user_id], name="Staff")
    palm = make_palm(
        telegram=fake_tg, matrix=matrix_config(synapse, bot),
        staff_rooms=[{"target": f"matrix:{room}"}], **extra,
    )  # fmt: skip
    palm.env["PALM_TEST_MATRIX_PASSWORD"] = bot.password
    palm.start()
    await palm.ready()

    async def joined() -> bool:
        return (await staff.members(room)).get(bot.user_id) == "join"

    await eventually(joined, limit=30, what="the bot to join the staff room")
    return MatrixStaffRoom(palm, bot, staff, room)


async def upload_image(user: User, data: bytes, name: str = "leak.jpg") -> str:
    """Upload ``data`` as ``user`` to the homeserver's media repository; the mxc URI."""
    url = f"{user.synapse.url}/_matrix/media/v3/upload?filename={name}"
    headers = {"Authorization": f"Bearer {user.token}", "Content-Type": "image/jpeg"}
    async with aiohttp.ClientSession() as http, http.post(url, data=data, headers=headers) as r:
        assert r.status == 200, await r.text()
        return str((await r.json())["content_uri"])
