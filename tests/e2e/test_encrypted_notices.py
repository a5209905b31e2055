"""A notice that must be read and a poll in an encrypted Matrix room, through `palm run`.

The resident's phone is a matrix-nio[e2e] client that encrypts everything, reactions
and poll responses included (as Element does). What the room received is compared
with what was sent: every event of the bot's is encrypted and decrypts on the phone,
and the resident's encrypted ✅ and vote are counted.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import quote

import nio
import pytest

from tests.e2e.conftest import PalmFactory, eventually
from tests.e2e.test_encrypted import _active, _matrix, _palm
from tests.fakes.synapse import Synapse, User
from tests.matrix.conftest import admin, new_user, synapse
from tests.matrix.resident import Resident, resident

__all__ = ["admin", "new_user", "synapse"]

pytestmark = pytest.mark.synapse


async def _bot_events(alice: User, room: str, bot: User) -> list[dict[str, Any]]:
    """The bot's non-state events in ``room``, as Synapse holds them, oldest first."""
    page = await alice.call("GET", f"/rooms/{quote(room)}/messages?dir=b&limit=200")
    found = [e for e in page["chunk"] if e["sender"] == bot.user_id and "state_key" not in e]
    found.reverse()
    return found


async def _decrypted(
    phone: Resident, alice: User, room: str, bot: User, pred: Callable[[nio.Event], bool],
    what: str,
) -> nio.Event:  # fmt: skip
    """The first event of the bot's in ``room`` that the phone decrypted and ``pred``
    accepts; every event of the bot's there is encrypted on the server."""
    found: list[nio.Event] = []

    async def seen() -> bool:
        raw = await _bot_events(alice, room, bot)
        assert {e["type"] for e in raw} <= {"m.room.encrypted"}, raw
        ids = {e["event_id"] for e in raw}
        found[:] = [
            e for e in phone.events.values() if e.event_id in ids and e.decrypted and pred(e)
        ]
        return bool(found)

    await eventually(seen, limit=40, what=what)
    return found[0]


def _is(cls: type[nio.Event]) -> Callable[[nio.Event], bool]:
    return lambda e: isinstance(e, cls)


def _kind(event_type: str) -> Callable[[nio.Event], bool]:
    return lambda e: e.source.get("type") == event_type


@pytest.mark.slow  # about 70 s at load 6: a dozen CLI runs
async def test_notice_confirmed_and_poll_voted_in_an_encrypted_room(
    make_palm: PalmFactory, synapse: Synapse, new_user: Callable[..., Any], tmp_path: Path
) -> None:
    bot: User = await new_user("palmbot")
    alice: User = await new_user("alice")
    async with resident(synapse.url, alice, tmp_path / "alice") as phone:
        room = await phone.create_room([bot.user_id], name="Building 5")
        seeds = [{"id": f"matrix:{room}", "tags": ["building:5"]}]
        palm = _palm(make_palm, bot, _matrix(synapse, bot, tmp_path / "crypto"), targets=seeds)
        palm.start()
        await palm.ready()
        await eventually(lambda: _active(palm, [room]), limit=60, what="the room, active")

        # A notice that must be read: encrypted, and so is the bot's own ✅ under it.
        done = await palm.cli("announce", "Gas shut-off tomorrow 9:00-11:00", "--to",
                              "building:5", "--confirm", "--no-wait")  # fmt: skip
        assert done.returncode == 0, done.stderr
        ann = done.stdout.strip()
        notice = await _decrypted(phone, alice, room, bot, _is(nio.RoomMessageText), "the notice")
        assert isinstance(notice, nio.RoomMessageText)
        assert "Gas shut-off tomorrow 9:00-11:00" in notice.body
        mine = await _decrypted(phone, alice, room, bot, _is(nio.ReactionEvent), "the bot's ✅")
        assert isinstance(mine, nio.ReactionEvent)
        assert (mine.reacts_to, mine.key) == (notice.event_id, "✅")

        # Alice's encrypted ✅ is decrypted and counted; it opens no ticket.
        await phone.react(room, notice.event_id)

        async def confirmed() -> bool:
            got = await palm.cli_json("announcements", "confirmations", ann)
            return bool(got["confirmed"] == 1)

        await eventually(confirmed, limit=40, what="alice's confirmation")
        report = await palm.cli_json("announcements", "confirmations", ann)
        (chat,) = report["chats"]
        assert (chat["target"], chat["confirmed"], chat["known"]) == (f"matrix:{room}", 1, 1)

        # A poll: the start is encrypted, alice's encrypted vote counts, the end is encrypted.
        made = await palm.cli("poll", "create", "Repaint the lobby?", "--option", "Green",
                              "--option", "Blue", "--to", "building:5")  # fmt: skip
        assert made.returncode == 0, made.stderr
        poll_id = made.stdout.strip()
        start = await _decrypted(phone, alice, room, bot, _kind("m.poll.start"), "the poll")
        answers = start.source["content"]["m.poll"]["answers"]
        assert [a["m.text"][0]["body"] for a in answers] == ["Green", "Blue"]
        await phone.vote(room, start.event_id, ["1"])

        async def voted() -> bool:
            return bool((await palm.cli_json("poll", "show", poll_id))["voters"] == 1)

        await eventually(voted, limit=40, what="alice's vote")
        assert (await palm.cli_json("poll", "show", poll_id))["counts"] == [0, 1]

        closed = await palm.cli("poll", "close", poll_id)
        assert closed.returncode == 0, closed.stderr
        end = await _decrypted(phone, alice, room, bot, _kind("m.poll.end"), "the poll end")
        assert end.source["content"]["m.relates_to"]["event_id"] == start.event_id
        assert (await palm.cli_json("tickets", "list"))["tickets"] == []
        # Nothing of the bot's in the room is in the clear (checked at every step too).
        raw = await _bot_events(alice, room, bot)
        assert raw
        assert {e["type"] for e in raw} == {"m.room.encrypted"}
