"""/api/v1/tickets and /api/v1/queue over real HTTP on the test Redis."""

from __future__ import annotations

import asyncio
from typing import Any

from aiohttp.test_utils import TestClient

from gateway.outbox.store import OutboxStore
from gateway.runtime import Runtime
from tests.tickets.conftest import make_tickets

Client = TestClient[Any, Any]
Headers = dict[str, dict[str, str]]


async def test_list_urgent_first_then_oldest_with_cursor(
    client: Client, tokens: Headers, runtime: Runtime
) -> None:
    await make_tickets(runtime, ["灯坏了", "noise", "电梯困人", "parking", "gas leak"])
    seen: list[str] = []
    cursor = None
    while True:
        q = "?limit=2" + (f"&cursor={cursor}" if cursor else "")
        r = await client.get("/api/v1/tickets" + q, headers=tokens["vera"])
        assert r.status == 200
        page = await r.json()
        assert len(page["tickets"]) <= 2
        seen += [t["id"] for t in page["tickets"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == ["T-3", "T-5", "T-1", "T-2", "T-4"]
    r = await client.get("/api/v1/tickets?status=new&kind=report", headers=tokens["vera"])
    assert len((await r.json())["tickets"]) == 5
    r = await client.get("/api/v1/tickets?status=closed", headers=tokens["vera"])
    assert r.status == 400
    assert (await r.json())["error"]["code"] == "bad_request"


async def test_viewer_reads_but_cannot_work(
    client: Client, tokens: Headers, runtime: Runtime
) -> None:
    await make_tickets(runtime, ["water leak"])
    r = await client.get("/api/v1/tickets/T-1", headers=tokens["vera"])
    assert r.status == 200
    detail = await r.json()
    assert detail["conversation"][0]["text"] == "water leak"
    r = await client.post("/api/v1/tickets/T-1/reply", json={"text": "hi"}, headers=tokens["vera"])
    assert r.status == 403
    assert (await r.json())["error"]["code"] == "forbidden"
    r = await client.get("/api/v1/tickets/T-1")
    assert r.status == 401


async def test_bad_bodies_are_400_json(client: Client, tokens: Headers, runtime: Runtime) -> None:
    await make_tickets(runtime, ["x"])
    staff = tokens["wang"]
    for body in ({}, {"text": ""}, {"text": "a", "extra": 1}, {"text": 5}):
        r = await client.post("/api/v1/tickets/T-1/reply", json=body, headers=staff)
        assert r.status == 400, body
        assert (await r.json())["error"]["code"] == "bad_request"
    r = await client.post("/api/v1/tickets/T-1/reply", data=b"{nope", headers=staff)
    assert r.status == 400
    r = await client.post("/api/v1/tickets/T-1/claim", json={"force": "maybe"}, headers=staff)
    assert r.status == 400
    r = await client.post("/api/v1/tickets/T-99/claim", headers=staff)
    assert r.status == 404
    r = await client.get("/api/v1/tickets/banana", headers=staff)
    assert r.status == 400


async def test_two_staff_claim_at_once_one_gets_409(
    client: Client, tokens: Headers, runtime: Runtime
) -> None:
    await make_tickets(runtime, ["5号楼消防栓坏了"])
    results = await asyncio.gather(
        client.post("/api/v1/tickets/T-1/claim", headers=tokens["wang"]),
        client.post("/api/v1/tickets/T-1/claim", headers=tokens["li"]),
    )
    assert sorted(r.status for r in results) == [200, 409]
    loser = next(r for r in results if r.status == 409)
    assert (await loser.json())["error"]["code"] == "conflict"
    winner = (await next(r for r in results if r.status == 200).json())["assignee"]
    other = "li" if winner == "wang" else "wang"
    r = await client.post("/api/v1/tickets/T-1/claim", json={"force": True}, headers=tokens[other])
    assert r.status == 200
    assert (await r.json())["assignee"] == other


async def test_reply_and_resolve_through_the_api(
    client: Client, tokens: Headers, runtime: Runtime
) -> None:
    await make_tickets(runtime, ["hydrant broken"])
    r = await client.post(
        "/api/v1/tickets/T-1/reply", json={"text": "on the way"}, headers=tokens["wang"]
    )
    assert r.status == 200
    body = await r.json()
    assert (body["status"], body["assignee"]) == ("claimed", "wang")  # implicit claim
    assert body["first_response_at"] is not None
    assert await OutboxStore(runtime).get(body["delivery_id"]) is not None
    r = await client.post("/api/v1/tickets/T-1/resolve", json={}, headers=tokens["li"])
    assert r.status == 200
    assert (await r.json())["status"] == "resolved"
    r = await client.post("/api/v1/tickets/T-1/resolve", json={}, headers=tokens["li"])
    assert r.status == 409
    r = await client.get("/api/v1/tickets/T-1", headers=tokens["vera"])
    history = (await r.json())["history"]
    assert [(h["action"], h["actor"]) for h in history] == [
        ("created", "resident"),
        ("claimed", "wang"),
        ("replied", "wang"),
        ("resolved", "li"),
    ]


async def test_queue_stats_and_metrics(client: Client, tokens: Headers, runtime: Runtime) -> None:
    await make_tickets(runtime, ["燃气泄漏", "noise upstairs", "parking blocked"])
    r = await client.post("/api/v1/tickets/T-2/claim", headers=tokens["wang"])
    assert r.status == 200
    r = await client.get("/api/v1/queue", headers=tokens["vera"])
    q = await r.json()
    assert q["depth"] == 3
    assert q["by_status"] == {"new": 2, "claimed": 1, "resolved": 0}
    assert q["by_kind"] == {"report": 3}
    assert q["by_category"] == {"gas": 1, "noise": 1, "parking": 1}
    assert q["by_priority"] == {"urgent": 1, "normal": 2}
    assert q["oldest_new_age_seconds"] >= 0
    text = await (await client.get("/metrics")).text()
    assert 'palm_queue_depth{status="new"} 2.0' in text
    assert 'palm_queue_depth{status="claimed"} 1.0' in text
    assert 'palm_queue_oldest_age_seconds{status="new"}' in text
