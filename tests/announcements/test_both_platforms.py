"""One announcement through `palm run` to the fake Bot API and a real Synapse:
exactly the selected chats on both platforms, then edit and recall everywhere."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from tests.e2e.conftest import PalmFactory, eventually
from tests.fakes.synapse import Synapse, User
from tests.fakes.telegram_api import FakeTelegram

pytestmark = [pytest.mark.synapse, pytest.mark.slow]


async def test_announce_edit_recall_on_telegram_and_matrix(
    fake_tg: FakeTelegram, make_palm: PalmFactory, synapse: Synapse, new_user: Callable[..., Any]
) -> None:
    bot: User = await new_user("palmbot")
    resident: User = await new_user("resident")
    room5 = await resident.create_room(invite=[bot.user_id], name="Building 5")
    room6 = await resident.create_room(invite=[bot.user_id], name="Building 6")
    targets = [
        {"id": "telegram:-1005", "tags": ["building:5"]},
        {"id": "telegram:-1006", "tags": ["building:6"]},
        {"id": f"matrix:{room5}", "tags": ["building:5"]},
        {"id": f"matrix:{room6}", "tags": ["building:6"]},
    ]
    matrix = {
        "homeserver": synapse.url, "user_id": bot.user_id,
        "password_env": "PALM_TEST_MATRIX_PASSWORD", "auto_join": "any", "sync_timeout_ms": 1000,
    }  # fmt: skip
    palm = make_palm(telegram=fake_tg, matrix=matrix, targets=targets)
    palm.env["PALM_TEST_MATRIX_PASSWORD"] = bot.password
    palm.start()
    await palm.ready()

    async def joined() -> bool:
        members = [await resident.members(r) for r in (room5, room6)]
        return all(m.get(bot.user_id) == "join" for m in members)

    await eventually(joined, limit=30, what="the bot to join both rooms")

    sent = await palm.cli("announce", "Tank cleaning **Tue** 9:00", "--to", "building:5")
    assert sent.returncode == 0, sent.stderr + palm.tail()
    ann_id = sent.stdout.split()[0]
    assert [m.text for m in fake_tg.sent_to(-1005)] == ["Tank cleaning Tue 9:00"]
    assert fake_tg.sent_to(-1006) == []

    def bot_events(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [e for e in events if e["sender"] == bot.user_id]

    in5 = bot_events(await resident.messages(room5))
    assert [e["content"]["body"] for e in in5] == ["Tank cleaning Tue 9:00"]
    assert "<b>Tue</b>" in in5[0]["content"].get("formatted_body", "")
    assert bot_events(await resident.messages(room6)) == []

    edited = await palm.cli_json("announcements", "edit", ann_id, "Tank cleaning **Wed** 9:00")
    assert {(r["platform"], r["result"]) for r in edited} == {
        ("telegram", "done"), ("matrix", "done")
    }  # fmt: skip
    assert [m.text for m in fake_tg.sent_to(-1005)] == ["Tank cleaning Wed 9:00"]
    replaced = [
        e for e in bot_events(await resident.messages(room5))
        if e["content"].get("m.relates_to", {}).get("rel_type") == "m.replace"
    ]  # fmt: skip
    assert replaced[0]["content"]["m.new_content"]["body"] == "Tank cleaning Wed 9:00"

    recalled = await palm.cli_json("announcements", "recall", ann_id)
    assert {r["result"] for r in recalled} == {"done"}
    assert all(m.deleted for m in fake_tg.sent_to(-1005))
    after = bot_events(await resident.messages(room5))
    original = next(e for e in after if e["event_id"] == in5[0]["event_id"])
    assert original["content"] == {}  # redacted
    # ...and so is the edit's m.replace event, which carried the corrected text.
    edit_event = next(e for e in after if e["event_id"] == replaced[0]["event_id"])
    assert edit_event["content"] == {}
    shown = await palm.cli_json("announcements", "show", ann_id)
    assert shown["status"] == "recalled"
    assert shown["counts"] == {"recalled": 2}
    assert fake_tg.violations == 0
