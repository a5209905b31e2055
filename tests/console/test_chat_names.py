"""Staff know chats by name: the queue and the ticket page show the group's name where
the platform gave one, "direct chat" for a resident's own chat, and the id otherwise."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from aiohttp.test_utils import TestClient

from gateway.accounts import Role
from gateway.models import ChatKind, Command
from gateway.runtime import Runtime
from tests.console.helpers import make_user, sign_in
from tests.funnel.conftest import Pipeline
from tests.funnel.factory import direct, message

Client = TestClient[Any, Any]


async def _page(client: Client, url: str, lang: str) -> str:
    await client.get(f"/console/lang?to={lang}&next=/console/")
    r = await client.get(url)
    assert r.status == 200
    return await r.text()


async def test_queue_and_ticket_show_the_chats_name(rt: Runtime, client: Client) -> None:
    p = Pipeline(rt)
    await p.consumer.start()
    report = message("/report lift stuck", target="telegram:-5", command=Command.REPORT)
    await p.feed(replace(report, chat_title="5号楼业主群"))  # T-1
    await p.feed(message("/report no light", target="telegram:-6", command=Command.REPORT))
    await p.feed(direct("when is the water back?", user="77"))  # T-3
    await make_user(rt, "li", Role.STAFF)
    await sign_in(client, "li")

    queue = await _page(client, "/console/", "en")
    row = queue.split('id="row-T-1"', 1)[1].split("</tr>", 1)[0]
    assert '<span title="telegram:-5">5号楼业主群</span>' in row
    untitled = queue.split('id="row-T-2"', 1)[1].split("</tr>", 1)[0]
    assert "<code>telegram:-6</code>" in untitled  # no name given: the id
    mine = queue.split('id="row-T-3"', 1)[1].split("</tr>", 1)[0]
    assert "direct chat" in mine
    assert "telegram:77" not in mine
    assert "私聊" in (await _page(client, "/console/", "zh")).split('id="row-T-3"', 1)[1]

    ticket = await _page(client, "/console/tickets/T-1", "en")
    assert "5号楼业主群 <code>telegram:-5</code> (group chat)" in ticket


async def test_the_tickets_json_names_the_chat(rt: Runtime) -> None:
    from gateway.funnel.tickets import TicketStore

    p = Pipeline(rt)
    await p.consumer.start()
    report = message("/report lift stuck", target="telegram:-5", command=Command.REPORT)
    await p.feed(replace(report, chat_title="5号楼业主群", chat_kind=ChatKind.GROUP))
    await p.feed(direct("hello", user="78"))
    store = TicketStore(rt.redis, rt.keys)
    named = await store.get("T-1")
    mine = await store.get("T-2")
    assert named is not None
    assert mine is not None
    assert named.to_json()["chat_title"] == "5号楼业主群"
    assert mine.to_json()["chat_title"] is None
