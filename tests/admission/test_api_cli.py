"""Admission through the API (admin) and the CLI (``palm targets pending|approve|reject``)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from gateway.admission.leave import leaving
from gateway.config import GatewayConfig
from gateway.http.server import build_app
from gateway.models import ChatKind, TargetId, TargetSeen
from gateway.runtime import Runtime
from gateway.tokens import Role, TokenStore
from tests.conftest import write_config
from tests.funnel.conftest import Pipeline
from tests.tickets.test_cli import palm

Client = TestClient[Any, Any]
NEW = TargetId("telegram:-100777")
ROOM = TargetId("matrix:!new:localhost")


@pytest.fixture
async def api(approve_rt: Runtime) -> AsyncIterator[Client]:
    async with TestClient(TestServer(build_app(approve_rt))) as c:
        yield c


async def _headers(rt: Runtime, role: Role) -> dict[str, str]:
    token = await TokenStore(rt.redis, rt.keys).create(f"t-{role.value}", role)
    return {"Authorization": f"Bearer {token}"}


async def test_api_pending_approve_reject(
    api: Client, approve_rt: Runtime, gate_funnel: Pipeline
) -> None:
    await gate_funnel.feed(
        TargetSeen(NEW, ChatKind.GROUP, "Stranger"), TargetSeen(ROOM, ChatKind.GROUP, "Room")
    )
    admin, staff = await _headers(approve_rt, Role.ADMIN), await _headers(approve_rt, Role.STAFF)
    r = await api.get("/api/v1/targets?status=pending", headers=staff)
    assert r.status == 200
    assert sorted(t["id"] for t in await r.json()) == [ROOM, NEW]
    assert {t["admission"] for t in await r.json()} == {"pending"}

    r = await api.post(f"/api/v1/targets/{NEW}/approve", json={}, headers=staff)
    assert r.status == 403
    r = await api.post(f"/api/v1/targets/{NEW}/approve", json={"tags": ["a b"]}, headers=admin)
    assert r.status == 400
    r = await api.post(
        f"/api/v1/targets/{NEW}/approve", json={"tags": ["building:7"]}, headers=admin
    )
    assert r.status == 200
    body = await r.json()
    assert (body["admission"], body["state"], body["tags"]) == (
        "approved",
        "active",
        ["building:7"],
    )
    r = await api.get("/api/v1/targets?status=active", headers=staff)
    assert [t["id"] for t in await r.json()] == [NEW]

    r = await api.post(f"/api/v1/targets/{ROOM}/reject", headers=admin)
    assert r.status == 200
    assert (await r.json())["admission"] == "rejected"
    assert await leaving(approve_rt) == [ROOM]
    r = await api.get("/api/v1/targets?status=pending", headers=staff)
    assert await r.json() == []
    r = await api.get("/api/v1/targets?status=rejected", headers=staff)
    assert [t["id"] for t in await r.json()] == [ROOM]

    r = await api.post("/api/v1/targets/telegram:-1/reject", headers=admin)
    assert r.status == 404
    r = await api.get("/api/v1/targets?status=maybe", headers=staff)
    assert r.status == 400
    assert (await r.json())["error"]["message"].startswith("status: expected")


async def test_cli_pending_approve_reject(
    approve_rt: Runtime, approve_config: GatewayConfig, gate_funnel: Pipeline, tmp_path: Path
) -> None:
    await gate_funnel.feed(
        TargetSeen(NEW, ChatKind.GROUP, "Stranger [red]x[/]"),
        TargetSeen(ROOM, ChatKind.GROUP, "Room"),
    )
    cfg = write_config(tmp_path / "palm.yaml", approve_config)
    listed = palm(cfg, "targets", "pending", "--json")
    assert listed.returncode == 0, listed.stderr
    assert sorted(t["id"] for t in json.loads(listed.stdout)) == [ROOM, NEW]
    table = palm(cfg, "targets", "pending")
    assert "Stranger [red]x[/]" in table.stdout
    assert "2 chats awaiting approval" in table.stdout

    done = palm(cfg, "targets", "approve", NEW, "--tag", "building:7", "--tag", "compound:a")
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == f"{NEW}: approved, tags building:7 compound:a"
    done = palm(cfg, "targets", "reject", ROOM)
    assert done.returncode == 0, done.stderr
    assert "rejected; the bot leaves the chat" in done.stdout
    assert await leaving(approve_rt) == [ROOM]
    listed = palm(cfg, "targets", "list")
    assert "rejected" in listed.stdout

    missing = palm(cfg, "targets", "approve", "telegram:-5")
    assert missing.returncode == 1
    assert missing.stderr.count("\n") == 1
    assert "no target telegram:-5" in missing.stderr
    bad = palm(cfg, "targets", "approve", "nonsense")
    assert bad.returncode == 1
    assert "platform:chat" in bad.stderr
    assert palm(cfg, "targets", "pending", "--json").stdout.strip() == "[]"
