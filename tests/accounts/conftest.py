"""A small street office: compound a (two chats), compound b (one chat), tickets in each."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest
from aiohttp.test_utils import TestClient, TestServer

from gateway.accounts import Role, TokenStore
from gateway.http.server import build_app
from gateway.models import ChatKind, Command
from gateway.runtime import Runtime
from tests.funnel.conftest import Pipeline
from tests.funnel.factory import message
from tests.outbox.helpers import seed

A5, A_ROOM, B1 = "telegram:-5", "matrix:!a:example.org", "telegram:-1"
CHATS = {A5: ["compound:a", "building:5"], A_ROOM: ["compound:a"], B1: ["compound:b"]}


@dataclass(frozen=True)
class Office:
    tickets: dict[str, str]  # chat -> ticket id
    tokens: dict[str, dict[str, str]]  # who -> Authorization header


async def make_office(rt: Runtime) -> Office:
    await seed(rt, CHATS)
    await seed(rt, {"telegram:77": ["compound:a"]}, kind=ChatKind.DIRECT)
    p = Pipeline(rt)
    await p.consumer.start()
    tickets = {}
    for i, chat in enumerate([A5, A_ROOM, B1]):
        await p.feed(message(f"broken pipe {i}", target=chat, command=Command.REPORT, user=str(i)))
    from gateway.funnel.tickets import TicketStore

    listed, _ = await TicketStore(rt.redis, rt.keys).list(limit=10)
    tickets = {t.target: t.id for t in listed}
    assert set(tickets) == {A5, A_ROOM, B1}
    store = TokenStore(rt.redis, rt.keys)
    tokens = {}
    for name, role, scope in (
        ("admin", Role.ADMIN, None),
        ("admin_a", Role.ADMIN, "compound:a"),
        ("staff_a", Role.STAFF, "compound:a"),
        ("viewer_a5", Role.VIEWER, "building:5"),
    ):
        token = await store.create(name, role, scope)
        tokens[name] = {"Authorization": f"Bearer {token}"}
    return Office(tickets, tokens)


@pytest.fixture
async def office(runtime: Runtime) -> Office:
    return await make_office(runtime)


@pytest.fixture
async def client(runtime: Runtime) -> AsyncIterator[TestClient[object, object]]:
    async with TestClient(TestServer(build_app(runtime))) as c:
        yield c
