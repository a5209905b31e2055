"""The chats page: tags and state, and pending chats an admin approves or rejects."""

from __future__ import annotations

from typing import Any

from aiohttp.test_utils import TestClient

from gateway.accounts import Role
from gateway.models import ChatKind, TargetId
from gateway.runtime import Runtime
from gateway.targets import TargetDirectory
from tests.console.helpers import make_user, session_csrf, sign_in

Client = TestClient[Any, Any]


async def _pending(rt: Runtime, target: str, title: str) -> None:
    directory = TargetDirectory(rt.redis, rt.keys)
    await directory.upsert(TargetId(target), ChatKind.GROUP, title, new_admission="pending")


async def test_admin_approves_with_tags_and_rejects(rt: Runtime, client: Client) -> None:
    await _pending(rt, "telegram:-77", "Stranger's group")
    await _pending(rt, "telegram:-78", "New building 7")
    await make_user(rt, "boss", Role.ADMIN)
    await sign_in(client, "boss")
    page = await (await client.get("/console/chats")).text()
    assert "Pending approval (2)" in page
    assert ">Approve<" in page
    csrf = await session_csrf(client)
    r = await client.post(
        "/console/chats/telegram:-78/approve", data={"csrf": csrf, "tags": "building:7"}
    )
    assert r.status == 200
    r = await client.post("/console/chats/telegram:-77/reject", data={"csrf": csrf})
    page = await r.text()
    assert "Pending approval" not in page
    directory = TargetDirectory(rt.redis, rt.keys)
    approved, rejected = await directory.get("telegram:-78"), await directory.get("telegram:-77")
    assert approved is not None
    assert rejected is not None
    assert (approved.admission, approved.tags) == ("approved", ("building:7",))
    assert rejected.admission == "rejected"


async def test_staff_sees_pending_without_buttons_and_cannot_approve(
    rt: Runtime, client: Client
) -> None:
    await _pending(rt, "telegram:-77", "Stranger's group")
    await make_user(rt, "li", Role.STAFF)
    await sign_in(client, "li")
    page = await (await client.get("/console/chats")).text()
    assert "Stranger&#39;s group" in page
    assert ">Approve<" not in page
    r = await client.post(
        "/console/chats/telegram:-77/approve", data={"csrf": await session_csrf(client)}
    )
    assert r.status == 403
    target = await TargetDirectory(rt.redis, rt.keys).get("telegram:-77")
    assert target is not None
    assert target.admission == "pending"
