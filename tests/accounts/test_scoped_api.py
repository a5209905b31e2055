"""Scopes through the HTTP API: a compound:a account never sees or reaches compound:b."""

from __future__ import annotations

from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from gateway.codec import encode_event
from gateway.funnel import bytarget
from gateway.funnel.consumer import FunnelConsumer
from gateway.runtime import Runtime
from tests.accounts.conftest import A5, A_ROOM, B1, Office
from tests.funnel.factory import message

Client = TestClient[object, object]


async def _call(
    client: Client, office: Office, who: str, method: str, path: str, body: Any = None
) -> tuple[int, Any]:
    for chat, tid in office.tickets.items():
        path = path.replace("{" + chat + "}", tid)
    resp = await client.request(method, "/api/v1" + path, json=body, headers=office.tokens[who])
    return resp.status, await resp.json()


# (who, method, path, body, status, text in the error message)
TABLE = [
    ("staff_a", "GET", "/tickets/{telegram:-1}", None, 404, "in your scope"),
    ("staff_a", "GET", "/tickets/{telegram:-5}", None, 200, None),
    ("staff_a", "GET", "/tickets/{matrix:!a:example.org}", None, 200, None),
    ("viewer_a5", "GET", "/tickets/{matrix:!a:example.org}", None, 404, "in your scope"),
    ("admin", "GET", "/tickets/{telegram:-1}", None, 200, None),
    ("staff_a", "POST", "/tickets/{telegram:-1}/claim", None, 404, "in your scope"),
    ("staff_a", "POST", "/tickets/{telegram:-1}/reply", {"text": "hi"}, 404, "in your scope"),
    ("staff_a", "POST", "/tickets/{telegram:-1}/resolve", {}, 404, "in your scope"),
    ("staff_a", "POST", "/tickets/{telegram:-5}/claim", None, 200, None),
    ("staff_a", "POST", "/tickets/{telegram:-5}/reply", {"text": "on our way"}, 200, None),
    ("staff_a", "POST", "/tickets/{telegram:-5}/resolve", {"note": "fixed"}, 200, None),
    ("staff_a", "POST", "/announcements", {"text": "x", "to": "compound:b"}, 403, B1),
    ("staff_a", "POST", "/announcements", {"text": "x", "to": "*"}, 403, B1),
    ("staff_a", "POST", "/announcements", {"text": "x", "to": "!building:5"}, 403, B1),
    ("staff_a", "POST", "/announcements", {"text": "x", "to": "compound:a"}, 202, None),
    ("admin", "POST", "/announcements", {"text": "x", "to": "*"}, 202, None),
    ("admin_a", "PATCH", "/targets/telegram:-1", {"tags": ["compound:a"]}, 403, B1),
    ("admin_a", "PATCH", "/targets/telegram:-5", {"tags": ["compound:a"]}, 200, None),
    ("admin_a", "PATCH", "/targets/telegram:-5", {"tags": ["compound:b"]}, 403, "outside your"),
    ("admin_a", "GET", "/tokens", None, 403, "without a scope"),
    ("admin_a", "POST", "/tokens", {"name": "x", "role": "admin"}, 403, "without a scope"),
    ("admin_a", "GET", "/users", None, 403, "without a scope"),
    ("admin", "GET", "/tokens", None, 200, None),
]


@pytest.mark.parametrize(("who", "method", "path", "body", "status", "says"), TABLE)
async def test_scope_table(
    client: Client,
    office: Office,
    who: str,
    method: str,
    path: str,
    body: Any,
    status: int,
    says: str | None,
) -> None:
    got, data = await _call(client, office, who, method, path, body)
    assert got == status, data
    if says is not None:
        assert says in data["error"]["message"]


async def test_announce_outside_names_every_chat_outside(client: Client, office: Office) -> None:
    status, data = await _call(client, office, "viewer_a5", "GET", "/whoami")
    assert data == {"name": "viewer_a5", "role": "viewer", "scope": "building:5"}
    status, data = await _call(
        client, office, "staff_a", "POST", "/announcements", {"text": "x", "to": "*"}
    )
    assert status == 403
    assert data["error"]["code"] == "forbidden"
    assert B1 in data["error"]["message"]
    assert A5 not in data["error"]["message"]


async def test_lists_are_filtered(client: Client, office: Office) -> None:
    _, tickets = await _call(client, office, "staff_a", "GET", "/tickets")
    assert {t["target"] for t in tickets["tickets"]} == {A5, A_ROOM}
    _, tickets = await _call(client, office, "viewer_a5", "GET", "/tickets?limit=1")
    assert [t["target"] for t in tickets["tickets"]] == [A5]
    assert tickets["next_cursor"] is None
    _, everything = await _call(client, office, "admin", "GET", "/tickets")
    assert len(everything["tickets"]) == 3
    _, targets = await _call(client, office, "staff_a", "GET", "/targets")
    assert {t["id"] for t in targets} == {A5, A_ROOM, "telegram:77"}
    _, queue = await _call(client, office, "staff_a", "GET", "/queue")
    assert queue["depth"] == 2
    assert queue["by_status"] == {"new": 2, "claimed": 0, "resolved": 0}
    assert queue["scope"] == "compound:a"
    assert sum(queue["by_kind"].values()) == 2
    _, queue = await _call(client, office, "admin", "GET", "/queue")
    assert queue["depth"] == 3


@pytest.mark.parametrize("budget", [2000, 3], ids=["walk", "intersect"])
async def test_paging_through_a_scope_skips_nothing(
    client: Client, office: Office, runtime: Runtime, budget: int, monkeypatch: Any
) -> None:
    """Both ways to read a scoped page: walking the index (a wide scope fills a page
    within the budget) and Redis intersecting it with the scope (the budget runs out)."""
    monkeypatch.setattr(bytarget, "WALK_BUDGET", budget)
    from tests.funnel.conftest import Pipeline
    from tests.funnel.factory import message

    p = Pipeline(runtime)
    await p.consumer.start()
    for i in range(30):  # interleave chats, so pages must skip compound:b tickets
        chat = (A5, B1, A_ROOM)[i % 3]
        await p.feed(message(f"/ask q{i}", target=chat, mentions_bot=True, user=f"u{i}"))
    seen: list[str] = []
    cursor = ""
    for _ in range(20):
        _, page = await _call(client, office, "staff_a", "GET", f"/tickets?limit=4&cursor={cursor}")
        seen += [t["id"] for t in page["tickets"]]
        assert all(t["target"] != B1 for t in page["tickets"])
        cursor = page["next_cursor"]
        if cursor is None:
            break
    _, everything = await _call(client, office, "admin", "GET", "/tickets?limit=100")
    expected = [t["id"] for t in everything["tickets"] if t["target"] != B1]
    assert seen == expected
    assert len(seen) == 22


async def test_announcements_are_filtered_to_the_scope(client: Client, office: Office) -> None:
    _, to_b = await _call(
        client, office, "admin", "POST", "/announcements", {"text": "b only", "to": "compound:b"}
    )
    _, to_all = await _call(
        client, office, "admin", "POST", "/announcements", {"text": "all", "to": "*"}
    )
    _, listed = await _call(client, office, "staff_a", "GET", "/announcements")
    assert [a["id"] for a in listed] == [to_all["id"]]
    status, _ = await _call(client, office, "staff_a", "GET", f"/announcements/{to_b['id']}")
    assert status == 404
    _, shown = await _call(client, office, "staff_a", "GET", f"/announcements/{to_all['id']}")
    assert {d["target"] for d in shown["deliveries"]} == {A5, A_ROOM}
    assert sum(shown["counts"].values()) == 2
    # It reached compound:b too, so a compound:a account may not edit or recall it.
    status, data = await _call(
        client, office, "staff_a", "PATCH", f"/announcements/{to_all['id']}", {"text": "y"}
    )
    assert status == 403
    assert B1 in data["error"]["message"]
    status, data = await _call(client, office, "staff_a", "DELETE", f"/announcements/{to_b['id']}")
    assert status == 404


async def test_tickets_from_before_the_chat_index_are_found(
    client: Client, office: Office, runtime: Runtime
) -> None:
    """An upgrade: tickets made before ``tickets:target:*`` existed are indexed once."""
    k = runtime.keys
    await runtime.redis.delete(
        k("tickets", "target", "ready"), *(k("tickets", "target", chat) for chat in office.tickets)
    )
    _, queue = await _call(client, office, "staff_a", "GET", "/queue")
    assert queue["depth"] == 2
    assert await runtime.redis.exists(k("tickets", "target", "ready"))
    members = await runtime.redis.smembers(k("tickets", "target", B1))
    assert members == {office.tickets[B1]}
    # Nothing temporary is left behind.
    assert [key async for key in runtime.redis.scan_iter(match=k("tmp", "*"))] == []


async def test_scoped_queue_figures_match_the_tickets(
    client: Client, office: Office, runtime: Runtime
) -> None:
    from gateway.models import Command
    from tests.funnel.conftest import Pipeline
    from tests.funnel.factory import message

    p = Pipeline(runtime)
    await p.consumer.start()
    for chat in (A5, B1):  # urgent: "消防栓" (fire hydrant) is an urgent keyword
        await p.feed(message("消防栓 broken", target=chat, user="x", command=Command.REPORT))
    await _call(client, office, "staff_a", "POST", f"/tickets/{office.tickets[A5]}/claim")
    await _call(client, office, "admin", "POST", f"/tickets/{office.tickets[A_ROOM]}/resolve", {})
    _, queue = await _call(client, office, "staff_a", "GET", "/queue")
    _, listed = await _call(client, office, "staff_a", "GET", "/tickets?limit=100")
    open_ = [t for t in listed["tickets"] if t["status"] != "resolved"]
    assert queue["by_status"] == {"new": 1, "claimed": 1, "resolved": 1}
    assert queue["depth"] == len(open_) == 2
    assert queue["by_priority"] == {"urgent": 1, "normal": 1}
    assert sum(queue["by_kind"].values()) == 2
    assert queue["by_category"] == _count(t["category"] for t in open_)
    assert queue["oldest_new_age_seconds"] is not None
    assert queue["oldest_claimed_age_seconds"] is not None
    _, everything = await _call(client, office, "admin", "GET", "/queue")
    assert everything["depth"] == 4
    assert "scope" not in everything


def _count(values: Any) -> dict[str, int]:
    out: dict[str, int] = {}
    for v in values:
        out[v] = out.get(v, 0) + 1
    return out


async def test_an_idempotency_key_does_not_reveal_an_announcement_outside(
    client: Client, office: Office
) -> None:
    key = {"Idempotency-Key": "gas-off-1"}
    made = await client.post(
        "/api/v1/announcements", json={"text": "b", "to": "compound:b"},
        headers={**office.tokens["admin"], **key},
    )  # fmt: skip
    assert made.status == 202
    replay = await client.post(
        "/api/v1/announcements", json={"text": "a", "to": "compound:a"},
        headers={**office.tokens["staff_a"], **key},
    )  # fmt: skip
    assert replay.status == 409
    assert (await made.json())["id"] not in await replay.text()
    mine = {"Idempotency-Key": "gas-off-a"}
    first = await client.post(
        "/api/v1/announcements", json={"text": "a", "to": "compound:a"},
        headers={**office.tokens["staff_a"], **mine},
    )  # fmt: skip
    again = await client.post(
        "/api/v1/announcements", json={"text": "a", "to": "compound:a"},
        headers={**office.tokens["staff_a"], **mine},
    )  # fmt: skip
    assert (await first.json())["id"] == (await again.json())["id"]


async def test_a_poll_idempotency_key_makes_one_poll_and_reveals_none_outside(
    client: Client, office: Office
) -> None:
    poll = {"question": "Bins?", "options": ["Mon", "Thu"]}
    admin = {**office.tokens["admin"], "Idempotency-Key": "bins-1"}
    made = await client.post("/api/v1/polls", json={**poll, "to": "compound:b"}, headers=admin)
    again = await client.post("/api/v1/polls", json={**poll, "to": "compound:b"}, headers=admin)
    assert made.status == again.status == 202, await made.text()
    assert (await made.json())["id"] == (await again.json())["id"]
    listed = await client.get("/api/v1/polls", headers=office.tokens["admin"])
    assert len(await listed.json()) == 1
    replay = await client.post(
        "/api/v1/polls", json={**poll, "to": "compound:a"},
        headers={**office.tokens["staff_a"], "Idempotency-Key": "bins-1"},
    )  # fmt: skip
    assert replay.status == 409
    assert (await made.json())["id"] not in await replay.text()


async def test_the_ticket_lua_indexes_each_new_ticket_by_chat(
    office: Office, runtime: Runtime
) -> None:
    # No scoped read has run yet, so nothing was backfilled: the sets come from the Lua.
    assert not await runtime.redis.exists(runtime.keys("tickets", "target", "ready"))
    for chat, tid in office.tickets.items():
        assert await runtime.redis.smembers(runtime.keys("tickets", "target", chat)) == {tid}


async def _park_one_each(runtime: Runtime) -> FunnelConsumer:
    """Entries 0-1 (from A5, in staff_a's scope) and 1-1 (from B1, outside it), parked."""
    consumer = FunnelConsumer(runtime, name="c")
    for n, chat in enumerate((A5, B1)):
        event = message(f"from {chat}", target=chat)
        await consumer._dead_letter(f"{n}-1", {"e": encode_event(event)}, "a bug")
    return consumer


async def test_parked_inbound_entries_are_filtered_to_the_scope(
    client: Client, office: Office, runtime: Runtime
) -> None:
    consumer = await _park_one_each(runtime)
    await consumer._dead_letter("9-1", {"e": "{not json"}, "malformed event")
    status, mine = await _call(client, office, "staff_a", "GET", "/queue/dead-letters")
    assert status == 200
    assert [(p["target"], p["text"]) for p in mine] == [(A5, f"from {A5}")]
    _, everything = await _call(client, office, "admin", "GET", "/queue/dead-letters")
    assert [p["target"] for p in everything] == [None, B1, A5]  # newest first


async def test_parked_entries_are_retried_or_handled_only_in_the_scope(
    client: Client, office: Office, runtime: Runtime
) -> None:
    await _park_one_each(runtime)
    path = "/queue/dead-letters/{}/{}"
    status, body = await _call(client, office, "staff_a", "POST", path.format("1-1", "handled"))
    assert status == 404, body  # B1 is outside staff_a's scope: it does not exist for them
    status, body = await _call(client, office, "viewer_a5", "POST", path.format("0-1", "retry"))
    assert status == 403, body
    status, body = await _call(client, office, "staff_a", "POST", path.format("0-1", "retry"))
    assert (status, body) == (200, {"entry": "0-1", "done": "retried"})
    status, body = await _call(client, office, "staff_a", "POST", path.format("0-1", "handled"))
    assert status == 404, body  # gone: retried already
    assert "already" in body["error"]["message"]
    status, body = await _call(client, office, "admin", "POST", path.format("1-1", "handled"))
    assert (status, body) == (200, {"entry": "1-1", "done": "handled"})
    _, left = await _call(client, office, "admin", "GET", "/queue/dead-letters")
    assert left == []
