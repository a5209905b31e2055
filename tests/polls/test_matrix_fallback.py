"""A Matrix room whose power levels forbid polls to the bot gets the numbered options; a
reply of a number votes (through `palm run` on the real Synapse)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import quote

import pytest

from tests.confirm.conftest import palm_in_room
from tests.e2e.conftest import PalmFactory, eventually
from tests.fakes.synapse import Synapse, User
from tests.fakes.telegram_api import FakeTelegram


@pytest.mark.synapse
async def test_room_refusing_polls_gets_numbered_options(
    fake_tg: FakeTelegram, make_palm: PalmFactory, synapse: Synapse,
    new_user: Callable[..., Any],
) -> None:  # fmt: skip
    bot: User = await new_user("palmbot")
    alice, bob = await new_user("alice"), await new_user("bob")
    room = await alice.create_room(invite=[bot.user_id, bob.user_id], name="Building 9")
    await bob.join(room)
    path = f"/rooms/{quote(room)}/state/m.room.power_levels"
    levels = await alice.call("GET", path)
    levels.setdefault("events", {})["m.poll.start"] = 100  # only admins start polls
    await alice.call("PUT", path, levels)
    targets = [{"id": f"matrix:{room}", "tags": ["building:9"], "title": "Building 9"}]
    palm = await palm_in_room(make_palm, fake_tg, synapse, bot, alice, room, targets=targets)
    made = await palm.cli("poll", "create", "Paint the lobby?", "--option", "Yes",
                          "--option", "No", "--to", "building:9")  # fmt: skip
    assert made.returncode == 0, made.stderr
    poll_id = made.stdout.strip()

    async def numbered() -> dict[str, Any] | None:
        found = [e for e in await alice.messages(room) if e["sender"] == bot.user_id]
        return found[0] if found else None

    await eventually(numbered, limit=30, what="the numbered options on Matrix")
    event = await numbered()
    assert event is not None
    assert "1. Yes\n2. No" in event["content"]["body"]
    await bob.send(room, "2", reply_to=event["event_id"])

    async def counted() -> bool:
        return (await palm.cli_json("poll", "show", poll_id))["counts"] == [0, 1]

    await eventually(counted, limit=30, what="bob's numbered vote")
    assert (await palm.cli("poll", "close", poll_id)).returncode == 0

    async def over() -> bool:
        return any("Voting is over" in str(e["content"].get("body", ""))
                   for e in await alice.messages(room))  # fmt: skip

    await eventually(over, limit=30, what="voting is over on Matrix")
    targets_now = await palm.cli_json("targets", "list")
    assert [t["state"] for t in targets_now] == ["active"], targets_now
