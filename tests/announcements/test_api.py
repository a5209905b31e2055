"""The announcements and targets API: roles, bodies, idempotency, edit/recall, metrics."""

from __future__ import annotations

import asyncio
import base64
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from gateway import announcements
from gateway.http.server import build_app
from gateway.models import Platform
from gateway.runtime import Runtime
from gateway.tokens import Role, TokenStore
from gateway.work import run_work
from tests.fakes.memory_adapter import MemoryAdapter
from tests.outbox.helpers import seed, wait_for, with_outbox, workers

API = "/api/v1"


@pytest.fixture
async def rt(runtime: Runtime) -> Runtime:
    rt = with_outbox(runtime)
    rt.adapters["telegram"] = MemoryAdapter(platform=Platform("telegram"))
    rt.adapters["matrix"] = MemoryAdapter(platform=Platform("matrix"))
    await seed(
        rt,
        {
            "telegram:-5": ["building:5"],
            "matrix:!b5:example.org": ["building:5"],
            "telegram:-6": ["building:6"],
        },
    )
    return rt


@pytest.fixture
async def client(rt: Runtime) -> AsyncIterator[TestClient[object, object]]:
    async with TestClient(TestServer(build_app(rt))) as c:  # type: ignore[type-var]
        yield c


async def auth(rt: Runtime, role: Role) -> dict[str, str]:
    token = await TokenStore(rt.redis, rt.keys).create(role.label, role)
    return {"Authorization": f"Bearer {token}"}


async def test_viewer_cannot_announce_and_staff_can(rt: Runtime, client: TestClient) -> None:
    viewer, staff = await auth(rt, Role.VIEWER), await auth(rt, Role.STAFF)
    body = {"text": "water off", "to": "building:5"}
    r = await client.post(f"{API}/announcements", json=body, headers=viewer)
    assert r.status == 403
    assert (await r.json())["error"]["code"] == "forbidden"
    r = await client.post(f"{API}/announcements", json=body, headers=staff)
    assert r.status == 202
    created = await r.json()
    assert created["status"] == "sending"
    assert created["targets"] == 2
    async with workers(rt):
        await wait_for(lambda: _done(rt, created["id"]))
    r = await client.get(f"{API}/announcements/{created['id']}", headers=viewer)
    shown = await r.json()
    assert shown["status"] == "done"
    assert shown["counts"] == {"sent": 2}
    assert {d["target"] for d in shown["deliveries"]} == {"telegram:-5", "matrix:!b5:example.org"}
    r = await client.get(f"{API}/announcements", headers=viewer)
    assert [a["id"] for a in await r.json()] == [created["id"]]


async def _done(rt: Runtime, ann_id: str) -> bool:
    return (await announcements.get(rt, ann_id)).status == "done"


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        ({"text": "x"}, "to: Field required"),
        ({"text": "x", "to": "building:5 &"}, "expected a tag after '&' at column 13"),
        ({"text": "x", "to": "nobody"}, "matches no active target"),
        ({"text": "x", "to": "*", "priority": "high"}, "priority"),
        ({"text": "x", "to": "*", "colour": "red"}, "colour: unknown field"),
        ({"text": "x", "to": "*", "send_at": "tomorrow"}, "send_at"),
        ({"text": "x", "to": "*", "send_at": "2030-01-01T09:00:00"}, "send_at"),
        (
            {"text": "x", "to": "*", "attachments": [{"filename": "a.png", "data": "!!"}]},
            "not valid base64",
        ),
        ([1, 2], "body"),
    ],
)
async def test_bad_bodies_are_400_json(
    rt: Runtime, client: TestClient, body: object, fragment: str
) -> None:
    r = await client.post(f"{API}/announcements", json=body, headers=await auth(rt, Role.STAFF))
    assert r.status == 400
    error = (await r.json())["error"]
    assert fragment in error["message"]


async def test_not_json_and_unknown_ids(rt: Runtime, client: TestClient) -> None:
    staff = await auth(rt, Role.STAFF)
    r = await client.post(f"{API}/announcements", data=b"{nope", headers=staff)
    assert r.status == 400
    r = await client.get(f"{API}/announcements/A-999", headers=staff)
    assert r.status == 404
    r = await client.get(f"{API}/announcements/xyz", headers=staff)
    assert r.status == 400


async def test_idempotency_key_header_returns_the_same_announcement(
    rt: Runtime, client: TestClient
) -> None:
    headers = {**await auth(rt, Role.STAFF), "Idempotency-Key": "notice-2024-06-01"}
    body = {"text": "once", "to": "*", "title": "T", "priority": "urgent"}
    first = await (await client.post(f"{API}/announcements", json=body, headers=headers)).json()
    again = await (await client.post(f"{API}/announcements", json=body, headers=headers)).json()
    assert first["id"] == again["id"]
    assert len(await announcements.list_recent(rt)) == 1


async def test_attachments_scheduled_edit_and_recall(rt: Runtime, client: TestClient) -> None:
    staff = await auth(rt, Role.STAFF)
    body = {
        "text": "see the flyer",
        "to": "building:6",
        "attachments": [{"filename": "flyer.pdf", "data": base64.b64encode(b"%PDF-1").decode()}],
    }
    created = await (await client.post(f"{API}/announcements", json=body, headers=staff)).json()
    async with workers(rt):
        await wait_for(lambda: _done(rt, created["id"]))
    tg = rt.adapters["telegram"]
    assert isinstance(tg, MemoryAdapter)
    assert tg.sends[0].attachments == ("flyer.pdf",)
    one = f"{API}/announcements/{created['id']}"
    work_task = asyncio.create_task(run_work(rt))
    try:
        # Edit and recall answer 202 at once; the results come under "work" on GET.
        r = await client.patch(one, json={"text": "fixed"}, headers=staff)
        assert r.status == 202
        edit_id = (await r.json())["work"]
        edited = await _finished(client, one, staff, edit_id)
        assert edited["results"] == [
            {"target": "telegram:-6", "platform": "telegram", "result": "done", "reason": None}
        ]
        assert (await (await client.get(one, headers=staff)).json())["status"] == "edited"
        r = await client.patch(one, json={"text": ""}, headers=staff)
        assert r.status == 400
        r = await client.delete(one, headers=await auth(rt, Role.VIEWER))
        assert r.status == 403
        r = await client.delete(one, headers=staff)
        assert r.status == 202
        recalled = await _finished(client, one, staff, (await r.json())["work"])
        assert [x["result"] for x in recalled["results"]] == ["done"]
        assert (await (await client.get(one, headers=staff)).json())["status"] == "recalled"
    finally:
        work_task.cancel()
        await asyncio.gather(work_task, return_exceptions=True)

    later = {"text": "later", "to": "*", "send_at": "2099-01-01T09:00:00+08:00"}
    r = await client.post(f"{API}/announcements", json=later, headers=staff)
    assert (await r.json())["status"] == "scheduled"


async def _finished(
    client: TestClient, one: str, headers: dict[str, str], work_id: str
) -> dict[str, Any]:
    found: dict[str, Any] = {}

    async def done() -> bool:
        detail = await (await client.get(one, headers=headers)).json()
        found.update(next(w for w in detail["work"] if w["id"] == work_id))
        return bool(found["status"] == "done")

    await wait_for(done)
    return found


async def test_targets_list_and_patch_needs_admin(rt: Runtime, client: TestClient) -> None:
    viewer, staff, admin_h = [await auth(rt, r) for r in (Role.VIEWER, Role.STAFF, Role.ADMIN)]
    r = await client.get(f"{API}/targets?tag=building:5", headers=viewer)
    assert {t["id"] for t in await r.json()} == {"telegram:-5", "matrix:!b5:example.org"}
    url = f"{API}/targets/matrix:!b5:example.org"
    r = await client.patch(url, json={"tags": ["building:5", "pool"]}, headers=staff)
    assert r.status == 403
    r = await client.patch(url, json={"tags": ["building:5", "pool"]}, headers=admin_h)
    assert r.status == 200
    assert (await r.json())["tags"] == ["building:5", "pool"]
    r = await client.patch(url, json={"tags": ["bad tag"]}, headers=admin_h)
    assert r.status == 400
    r = await client.patch(f"{API}/targets/telegram:404", json={"tags": []}, headers=admin_h)
    assert r.status == 404


async def test_metrics_show_outbox_pending(rt: Runtime, client: TestClient) -> None:
    await announcements.create(rt, text="queued", to="*")
    r = await client.get("/metrics")
    text = await r.text()
    assert 'palm_outbox_pending{platform="telegram"} 2.0' in text
    assert 'palm_outbox_pending{platform="matrix"} 1.0' in text
