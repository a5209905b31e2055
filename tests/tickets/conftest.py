"""Ticket fixtures: tickets made through the real funnel, and an API client."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from aiohttp.test_utils import TestClient, TestServer

from gateway.http.server import build_app
from gateway.models import Command
from gateway.runtime import Runtime
from gateway.tokens import Role, TokenStore
from tests.funnel.conftest import Pipeline
from tests.funnel.factory import message


async def make_tickets(rt: Runtime, texts: list[str]) -> Pipeline:
    p = Pipeline(rt)
    await p.consumer.start()
    await p.feed(*[message(t, command=Command.REPORT, user=str(i)) for i, t in enumerate(texts)])
    return p


@pytest.fixture
async def client(runtime: Runtime) -> AsyncIterator[TestClient[object, object]]:
    async with TestClient(TestServer(build_app(runtime))) as c:
        yield c


@pytest.fixture
async def tokens(runtime: Runtime) -> dict[str, dict[str, str]]:
    store = TokenStore(runtime.redis, runtime.keys)
    out = {}
    for name, role in (("vera", Role.VIEWER), ("wang", Role.STAFF), ("li", Role.STAFF)):
        token = await store.create(name, role)
        out[name] = {"Authorization": f"Bearer {token}"}
    return out
