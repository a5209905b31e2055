"""``/unit`` and ``/房号`` through `palm run` (fake Bot API, real Synapse), and
`palm residents` plus the API on the same Redis."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import aiohttp
import pytest

from tests.confirm.conftest import palm_in_room
from tests.e2e.conftest import PalmFactory, eventually
from tests.fakes.synapse import Synapse, User
from tests.fakes.telegram_api import FakeTelegram


@pytest.mark.synapse
async def test_unit_commands_on_both_platforms(
    fake_tg: FakeTelegram, make_palm: PalmFactory, synapse: Synapse,
    new_user: Callable[..., Any],
) -> None:  # fmt: skip
    bot: User = await new_user("palmbot")
    wang: User = await new_user("wang")
    room = await wang.create_room(invite=[bot.user_id], name="Building 5")
    palm = await palm_in_room(make_palm, fake_tg, synapse, bot, wang, room)
    group = -100555
    li = fake_tg.user(7001, language="zh")
    zhao = fake_tg.user(7002, language="en")
    fake_tg.private_message(7001, "/房号 5-302", sender=li)
    fake_tg.group_message(group, "/unit@" + fake_tg.bot.username + " 6-101", sender=zhao)
    fake_tg.private_message(7001, "/unit 5 302", sender=li)  # wrong: answered, not bound
    await wang.send(room, "/unit 5-302")

    def answered() -> bool:
        return len(fake_tg.sent_to(7001)) == 2 and len(fake_tg.sent_to(group)) == 1

    await eventually(answered, limit=30, what="the bot's answers on Telegram")
    texts = [m.text for m in fake_tg.sent_to(7001)]
    assert "已登记：Resident7001 住 5-302（5 号楼）。" in texts
    assert any(t and t.startswith("房号格式不对") for t in texts)
    (group_answer,) = fake_tg.sent_to(group)
    assert group_answer.text == "Registered: Resident7002 lives in 6-101 (building 6)."

    async def matrix_answer() -> bool:
        events = await wang.messages(room)
        return any("5-302" in str(e["content"].get("body", "")) and e["sender"] == bot.user_id
                   for e in events)  # fmt: skip

    await eventually(matrix_answer, limit=30, what="the bot's answer on Matrix")
    rows = await palm.cli_json("residents", "list", "--building", "5")
    assert {(r["resident"], r["unit"], r["by"]) for r in rows} == {
        ("telegram:7001", "5-302", "self"), (f"matrix:{wang.user_id}", "5-302", "self"),
    }  # fmt: skip
    # Nothing of this became a ticket.
    assert (await palm.cli_json("tickets", "list"))["tickets"] == []

    # Staff correct a unit from the CLI; a bad one is one line and exit 1.
    done = await palm.cli("residents", "set", "telegram:7002", "--unit", "6-102")
    assert done.returncode == 0, done.stderr
    assert "telegram:7002: 6-102 (building:6)" in done.stdout
    bad = await palm.cli("residents", "set", "telegram:7002", "--unit", "six")
    assert bad.returncode == 1
    assert bad.stderr.count("\n") == 1
    assert "not a unit" in bad.stderr
    bad = await palm.cli("residents", "set", "wechat:1", "--unit", "6-102")
    assert bad.returncode == 1
    assert "not a resident" in bad.stderr

    # The API, with a staff token.
    made = await palm.cli("tokens", "create", "office", "--role", "staff")
    assert made.returncode == 0, made.stderr
    token = made.stdout.strip().split()[-1]
    auth = {"Authorization": f"Bearer {token}"}
    url = f"{palm.base}/api/v1/residents"
    async with aiohttp.ClientSession(headers=auth) as s:
        async with s.put(f"{url}/telegram:7003", json={"unit": "6-101"}) as r:
            assert r.status == 200, await r.text()
            assert (await r.json())["building"] == "6"
        async with s.put(f"{url}/telegram:7003", json={"unit": "x"}) as r:
            assert r.status == 400
            assert (await r.json())["error"]["code"] == "bad_request"
        async with s.get(f"{url}?building=6") as r:
            rows = json.loads(await r.text())
    assert sorted((r["resident"], r["unit"]) for r in rows) == [
        ("telegram:7002", "6-102"), ("telegram:7003", "6-101"),
    ]  # fmt: skip
