"""Polls in one process (memory adapters, real Redis): the API with scopes, the
counting rules, numbered replies and comments, and the closing time."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator

import pytest
from aiohttp.test_utils import TestClient, TestServer

from gateway.accounts.principal import Role
from gateway.accounts.tokens import TokenStore
from gateway.errors import RetryableError
from gateway.http.server import build_app
from gateway.models import (
    ChatKind,
    InboundMessage,
    Platform,
    PlatformMessageId,
    PollVote,
    Sender,
    TargetId,
    UserId,
)
from gateway.polls import service
from gateway.polls.inbound import on_inbound
from gateway.runtime import Runtime
from tests.fakes.memory_adapter import MemoryAdapter
from tests.outbox.helpers import seed, wait_for, with_outbox, workers

API = "/api/v1"
TG, MX, OTHER = "telegram:-5", "matrix:!b5:example.org", "telegram:-6"


@pytest.fixture
async def rt(runtime: Runtime) -> Runtime:
    rt = with_outbox(runtime)
    rt.adapters["telegram"] = MemoryAdapter(platform=Platform("telegram"))
    rt.adapters["matrix"] = MemoryAdapter(platform=Platform("matrix"))
    await seed(rt, {TG: ["building:5"], MX: ["building:5"], OTHER: ["building:6"]})
    return rt


@pytest.fixture
async def client(rt: Runtime) -> AsyncIterator[TestClient[object, object]]:
    async with TestClient(TestServer(build_app(rt))) as c:  # type: ignore[type-var]
        yield c


async def auth(rt: Runtime, role: Role, scope: str | None = None) -> dict[str, str]:
    token = await TokenStore(rt.redis, rt.keys).create(f"{role.label}{scope}", role, scope)
    return {"Authorization": f"Bearer {token}"}


def mx(rt: Runtime) -> MemoryAdapter:
    adapter = rt.adapters["matrix"]
    assert isinstance(adapter, MemoryAdapter)
    return adapter


def vote(user: str, ref: str, options: tuple[int, ...], key: str, *, room: str = MX,
         at: float | None = None) -> PollVote:  # fmt: skip
    return PollVote(Platform("matrix"), key, ref, Sender(UserId(user), user), options,
                    time.time() if at is None else at, TargetId(room))  # fmt: skip


def reply(target: str, text: str, to: str, key: str, user: str = "77") -> InboundMessage:
    return InboundMessage(
        Platform("telegram"), key, TargetId(target), ChatKind.GROUP, PlatformMessageId(key),
        Sender(UserId(user), f"user {user}"), text, time.time(), reply_to=PlatformMessageId(to),
    )  # fmt: skip


async def sent(rt: Runtime, poll_id: str, n: int) -> None:
    async def all_sent() -> bool:
        ds = await service.poll_deliveries(rt, poll_id)
        return len(ds) == n and all(d.state == "sent" for d in ds)

    await wait_for(all_sent)


async def test_api_roles_scope_show_and_close(rt: Runtime, client: TestClient) -> None:
    viewer, staff = await auth(rt, Role.VIEWER), await auth(rt, Role.STAFF)
    six = await auth(rt, Role.STAFF, "building:6")
    body = {"question": "EV chargers?", "options": ["yes", "no"], "to": "building:5"}
    r = await client.post(f"{API}/polls", json=body, headers=viewer)
    assert r.status == 403
    r = await client.post(f"{API}/polls", json=body, headers=six)
    assert r.status == 403
    assert TG in (await r.json())["error"]["message"]
    r = await client.post(f"{API}/polls", json={**body, "options": ["only"]}, headers=staff)
    assert r.status == 400
    r = await client.post(f"{API}/polls", json=body, headers=staff)
    assert r.status == 202, await r.text()
    poll_id = (await r.json())["id"]
    async with workers(rt):
        await sent(rt, poll_id, 2)
        (start,) = mx(rt).sent_to(MX)
        assert await on_inbound(rt, vote("@a:x", start.message_id, (0,), "$1"))
        r = await client.get(f"{API}/polls/{poll_id}?by=chat", headers=viewer)
        shown = await r.json()
        assert shown["by_chat"] == {MX: {"voters": 1, "counts": [1, 0]}}
        assert (await client.get(f"{API}/polls/{poll_id}", headers=six)).status == 404
        assert [p["id"] for p in await (await client.get(f"{API}/polls", headers=six)).json()] == []
        r = await client.get(f"{API}/polls/{poll_id}?by=street", headers=viewer)
        assert r.status == 400
        assert (await client.post(f"{API}/polls/{poll_id}/close", headers=viewer)).status == 403
        r = await client.post(f"{API}/polls/{poll_id}/close", headers=staff)
        assert (await r.json())["state"] == "closed"

        async def results() -> bool:
            adapters = [a for a in rt.adapters.values() if isinstance(a, MemoryAdapter)]
            return all(any("Voting is over" in s.text for s in a.sends) for a in adapters)

        await wait_for(results)
    assert (await client.get(f"{API}/polls/P-999", headers=viewer)).status == 404
    assert (await client.get(f"{API}/polls/bogus", headers=viewer)).status == 400


async def test_counting_rules(rt: Runtime) -> None:
    poll = await service.create(rt, question="Which day?", options=["Sat", "Sun", "Mon"],
                                to="building:5", multiple=True)  # fmt: skip
    async with workers(rt):
        await sent(rt, poll.id, 2)
    ref = mx(rt).sent_to(MX)[0].message_id
    t0 = time.time()
    await on_inbound(rt, vote("@a:x", ref, (0, 2), "$1", at=t0))
    await on_inbound(rt, vote("@a:x", ref, (0, 2), "$1", at=t0))  # a replay: nothing
    await on_inbound(rt, vote("@b:x", ref, (1,), "$2", at=t0 + 2))
    await on_inbound(rt, vote("@b:x", ref, (0,), "$3", at=t0 + 1))  # older than the held one
    await on_inbound(rt, vote("@c:x", ref, (1,), "$4", room="matrix:!elsewhere"))  # outside
    await on_inbound(rt, vote("@a:x", ref, (), "$5", at=t0 + 3))  # retracted
    polls = service.store_of(rt)
    assert set(await polls.votes(poll.id)) == {"matrix:@b:x"}
    assert await polls.stats(poll.id) == {"counted": 2, "retracted": 1, "stale": 1, "outside": 1}
    # Telegram (no native poll here): a reply of numbers votes, anything else is a comment.
    tg = rt.adapters["telegram"]
    assert isinstance(tg, MemoryAdapter)
    msg = tg.sent_to(TG)[0]
    assert "1. Sat" in msg.text
    assert "Reply to this message" in msg.text
    assert await on_inbound(rt, reply(TG, "1 3", msg.message_id, "u1"))
    assert await on_inbound(rt, reply(TG, "9", msg.message_id, "u2", user="78"))
    assert await on_inbound(rt, reply(TG, "Sunday is church", msg.message_id, "u3", user="79"))
    assert not await on_inbound(rt, reply(TG, "1", "12345", "u4"))  # not a poll message
    votes = await polls.votes(poll.id)
    assert votes["telegram:77"]["o"] == [0, 2]
    assert [c["text"] for c in await polls.comments(poll.id)] == ["9", "Sunday is church"]


async def test_closes_at_its_time(rt: Runtime) -> None:
    poll = await service.create(rt, question="Quick?", options=["a", "b"], to="building:6",
                                closes_at=time.time() + 1.5)  # fmt: skip
    assert await service.close_due(rt) == []
    async with workers(rt):
        await sent(rt, poll.id, 1)

        async def closed() -> bool:
            await service.close_due(rt)
            return (await service.get(rt, poll.id)).state == "closed"

        await wait_for(closed, limit=10)
        tg = rt.adapters["telegram"]
        assert isinstance(tg, MemoryAdapter)

        async def result() -> bool:
            return any("Voting is over" in s.text for s in tg.sent_to(OTHER))

        await wait_for(result)
    ref = tg.sent_to(OTHER)[0].message_id
    assert await on_inbound(rt, reply(OTHER, "1", ref, "late"))
    assert await service.store_of(rt).stats(poll.id) == {"late": 1}
    with pytest.raises(Exception, match="in the past"):
        await service.create(rt, question="x?", options=["a", "b"], to="building:6",
                             closes_at=time.time() - 1)  # fmt: skip


async def test_a_vote_for_a_poll_still_being_sent_waits(rt: Runtime) -> None:
    poll = await service.create(rt, question="Soon?", options=["a", "b"], to="building:5")
    # Not sent yet: a fresh vote for an unknown handle may be for it -> retried later ...
    with pytest.raises(RetryableError):
        await on_inbound(rt, vote("@a:x", "$not-yet", (0,), "$r1"))
    # ... but an old one (somebody else's poll) does not hold the funnel up.
    assert await on_inbound(rt, vote("@a:x", "$not-yet", (0,), "$r2", at=time.time() - 600))
    async with workers(rt):
        await sent(rt, poll.id, 2)
    ref = mx(rt).sent_to(MX)[0].message_id
    assert await on_inbound(rt, vote("@a:x", ref, (0,), "$r1"))  # the retry finds it
    assert await on_inbound(rt, vote("@z:x", "$foreign", (0,), "$r3"))  # ignored
    assert list(await service.store_of(rt).votes(poll.id)) == ["matrix:@a:x"]
