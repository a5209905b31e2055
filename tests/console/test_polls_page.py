"""The polls page (scoped list) and a page per poll with its results, live (no browser)."""

from __future__ import annotations

import time
from typing import Any

from aiohttp.test_utils import TestClient

from gateway.accounts import Role
from gateway.console.events import last_id, read_after
from gateway.households import HouseholdStore
from gateway.models import Platform, PollVote, Sender, TargetId, UserId
from gateway.polls import service
from gateway.polls.inbound import on_inbound
from gateway.runtime import Runtime
from tests.console.helpers import make_user, sign_in
from tests.fakes.memory_adapter import MemoryAdapter
from tests.outbox.helpers import wait_for, workers

Client = TestClient[Any, Any]
MX = "matrix:!b5:example.org"


async def _sent(rt: Runtime, poll_id: str, n: int) -> None:
    async def all_sent() -> bool:
        ds = await service.poll_deliveries(rt, poll_id)
        return len(ds) == n and all(d.state == "sent" for d in ds)

    await wait_for(all_sent)


async def _vote(rt: Runtime, ref: str, user: str, options: tuple[int, ...]) -> None:
    await on_inbound(rt, PollVote(Platform("matrix"), f"${user}", ref, Sender(UserId(user), user),
                                  options, time.time(), TargetId(MX)))  # fmt: skip


def _ref(rt: Runtime) -> str:
    adapter = rt.adapters["matrix"]
    assert isinstance(adapter, MemoryAdapter)
    return str(adapter.sent_to(MX)[0].message_id)


async def test_poll_results_by_option_platform_chat_and_building_live(
    rt: Runtime, client: Client
) -> None:
    poll = await service.create(rt, question="Which day for the tank?", options=["Sat", "Sun"],
                                to="building:5")  # fmt: skip
    other = await service.create(rt, question="Bins?", options=["a", "b"], to="building:9")
    async with workers(rt):
        await _sent(rt, poll.id, 2)
        await _sent(rt, other.id, 1)
    await HouseholdStore(rt.redis, rt.keys).bind("matrix:@a:x", "5-101")
    await _vote(rt, _ref(rt), "@a:x", (1,))
    await make_user(rt, "gm", Role.VIEWER, scope="compound:guanmei")
    await sign_in(client, "gm")
    listing = await (await client.get("/console/polls")).text()
    assert poll.id in listing
    assert "Which day for the tank?" in listing
    assert "Bins?" not in listing  # building 9 is outside the scope
    assert "<td>1</td>" in listing  # its voters
    page = await (await client.get(f"/console/polls/{poll.id}")).text()
    assert f'data-stream="poll:{poll.id}"' in page
    assert "2. Sun" in page
    assert "chat matrix:!b5:example.org" in page  # by chat, with the chat's title
    assert "1 / 1" in page  # building 5: one household of one voted
    before = await last_id(rt.redis, rt.keys)
    await _vote(rt, _ref(rt), "@b:x", (0,))
    events = await read_after(rt.redis, rt.keys, before, block_ms=1000)
    assert [(e.kind, e.subject, e.target) for e in events] == [("vote", poll.id, MX)]
    live = await (await client.get(f"/console/polls/{poll.id}/live")).text()
    assert "Voters: 2" in live
    assert (await client.get(f"/console/polls/{other.id}")).status == 404


async def test_no_polls_and_the_zh_page(rt: Runtime, client: Client) -> None:
    await make_user(rt, "li", Role.STAFF)
    await sign_in(client, "li")
    page = await (await client.get("/console/polls", headers={"Accept-Language": "zh"})).text()
    assert "没有投票。" in page
