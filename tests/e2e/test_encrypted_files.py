"""A resident's photo from an encrypted Matrix room reaches staff decrypted, through
`palm run`: the ticket keeps what opens it, the staff room gets the photo itself."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import nio
import pytest

from tests.e2e.conftest import PalmFactory, eventually
from tests.e2e.test_encrypted import _active, _matrix, _palm
from tests.fakes.synapse import Synapse, User
from tests.matrix.conftest import admin, new_user, synapse
from tests.matrix.resident import resident

__all__ = ["admin", "new_user", "synapse"]

pytestmark = pytest.mark.synapse

JPEG = b"\xff\xd8\xff\xe0" + b"kitchen pipe " * 600 + b"\xff\xd9"


@pytest.mark.slow  # about 20 s at load 8
async def test_encrypted_photo_becomes_a_ticket_attachment_staff_see_decrypted(
    make_palm: PalmFactory, synapse: Synapse, new_user: Callable[..., Any], tmp_path: Path
) -> None:
    bot: User = await new_user("palmbot")
    alice: User = await new_user("alice")
    staff: User = await new_user("secretary")
    staff_room = await staff.create_room(invite=[bot.user_id], name="Staff")
    async with resident(synapse.url, alice, tmp_path / "alice") as phone:
        dm = await phone.create_room([bot.user_id], name=None)  # no name, two members: direct
        palm = _palm(make_palm, bot, _matrix(synapse, bot, tmp_path / "crypto"),
                     staff_rooms=[{"target": f"matrix:{staff_room}"}], locale="en")  # fmt: skip
        palm.start()
        await palm.ready()
        await eventually(lambda: _active(palm, [dm]), limit=60, what="the direct room, active")

        await phone.send(dm, "The water pipe in my kitchen is leaking")

        async def card() -> dict[str, Any] | None:
            found = [
                e for e in await staff.messages(staff_room)
                if e["sender"] == bot.user_id and "leaking" in e["content"].get("body", "")
            ]  # fmt: skip
            return found[0] if found else None

        await eventually(card, limit=40, what="the card in the staff room")
        root = await card()
        assert root is not None

        await phone.send_encrypted_image(dm, JPEG, "leak.jpg")

        async def photo() -> dict[str, Any] | None:
            for e in await staff.messages(staff_room):
                rel = e["content"].get("m.relates_to", {})
                if (
                    e["content"].get("msgtype") == "m.image"
                    and rel.get("event_id") == (root["event_id"])
                ):
                    return e
            return None

        await eventually(photo, limit=40, what="the photo under the card")
        image = await photo()
        assert image is not None
        got = await phone.client.download(mxc=image["content"]["url"])
        assert isinstance(got, nio.MemoryDownloadResponse), got
        assert got.body == JPEG  # the photo itself, not the ciphertext

        (ticket,) = (await palm.cli_json("tickets", "list"))["tickets"]
        shown = await palm.cli_json("tickets", "show", ticket["id"])
        atts = [a for m in shown["conversation"] for a in m.get("attachments", [])]
        assert len(atts) == 1
        assert "#k=" in atts[0]["ref"]  # the key is kept with the reference
