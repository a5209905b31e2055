from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from gateway.http.server import build_app
from gateway.models import Platform
from gateway.runtime import Runtime
from tests.fakes.memory_adapter import MemoryAdapter
from tests.outbox.helpers import seed, with_outbox


@pytest.fixture
async def rt(runtime: Runtime) -> Runtime:
    rt = with_outbox(runtime)
    rt.adapters["telegram"] = MemoryAdapter(platform=Platform("telegram"))
    rt.adapters["matrix"] = MemoryAdapter(platform=Platform("matrix"))
    await seed(
        rt,
        {
            "telegram:-5": ["building:5", "compound:guanmei"],
            "matrix:!b5:example.org": ["building:5", "compound:guanmei"],
            "telegram:-9": ["building:9", "compound:other"],
        },
    )
    return rt


@pytest.fixture
async def client(rt: Runtime) -> AsyncIterator[TestClient[Any, Any]]:
    async with TestClient(TestServer(build_app(rt)), headers={"Accept-Language": "en"}) as c:
        yield c
