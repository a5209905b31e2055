"""Queue and ticket pages, the live event stream, scopes and escaping (no browser)."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from aiohttp.test_utils import TestClient

from gateway.accounts import Role
from gateway.codec import encode_event
from gateway.funnel.consumer import FunnelConsumer
from gateway.inbound import inbound_stream
from gateway.models import Command
from gateway.runtime import Runtime
from tests.console.helpers import make_user, session_csrf, sign_in
from tests.funnel.conftest import Pipeline
from tests.funnel.factory import direct, message

Client = TestClient[Any, Any]
XSS = "<img src=x onerror=alert(1)>"


async def _funnel(rt: Runtime) -> Pipeline:
    p = Pipeline(rt)
    await p.consumer.start()
    return p


async def _report(p: Pipeline, text: str, target: str = "telegram:-5", user: str = "501") -> None:
    await p.feed(message(text, target=target, command=Command.REPORT, user=user))


async def _events(
    client: Client, url: str, want: int, headers: dict[str, str] | None = None
) -> list[dict[str, Any]]:
    """Read ``want`` SSE events from ``url`` (id, event and decoded data)."""
    out: list[dict[str, Any]] = []
    async with client.get(url, headers=headers or {}) as r:
        assert r.status == 200
        assert r.headers["Content-Type"].startswith("text/event-stream")
        current: dict[str, Any] = {}
        async with asyncio.timeout(10):
            async for raw in r.content:
                line = raw.decode().rstrip("\n")
                if not line:
                    if "event" in current:
                        out.append(current)
                        if len(out) >= want:
                            return out
                    current = {}
                    continue
                field, _, value = line.partition(": ")
                current[field] = json.loads(value) if field == "data" else value
    return out


async def test_queue_urgent_first_then_oldest_and_text_escaped(rt: Runtime, client: Client) -> None:
    p = await _funnel(rt)
    await _report(p, "the bench is loose", user="1")
    await _report(p, XSS, user="2")
    await _report(p, "fire hydrant broken, water everywhere", user="3")
    await make_user(rt, "li", Role.STAFF)
    await sign_in(client, "li")
    html = await (await client.get("/console/")).text()
    assert html.index("fire hydrant") < html.index("the bench") < html.index("&lt;img src=x")
    assert XSS not in html
    ticket = await (await client.get("/console/tickets/T-2")).text()
    assert "&lt;img src=x onerror=alert(1)&gt;" in ticket
    assert XSS not in ticket
    assert "(group chat)" in ticket  # the chat's kind in words, and in Chinese below
    await client.get("/console/lang?to=zh&next=/console/")
    assert "（群聊）" in await (await client.get("/console/tickets/T-2")).text()


async def test_claim_reply_resolve_from_the_ticket_page(rt: Runtime, client: Client) -> None:
    p = await _funnel(rt)
    await _report(p, "fire hydrant broken")
    await make_user(rt, "li", Role.STAFF)
    await sign_in(client, "li")
    csrf = await session_csrf(client)
    r = await client.post("/console/tickets/T-1/claim", data={"csrf": csrf})
    assert r.status == 200
    assert "claimed" in await r.text()
    r = await client.post("/console/tickets/T-1/reply", data={"csrf": csrf, "text": "on the way"})
    assert "on the way" in await r.text()
    r = await client.post("/console/tickets/T-1/resolve", data={"csrf": csrf, "note": "valve"})
    page = await r.text()
    assert "resolved" in page
    assert "valve" in page


async def test_sse_sends_new_tickets_and_resumes_with_last_event_id(
    rt: Runtime, client: Client
) -> None:
    p = await _funnel(rt)
    await make_user(rt, "li", Role.STAFF)
    await sign_in(client, "li")
    reader = asyncio.create_task(_events(client, "/console/events?topic=queue&from=0-0", 2))
    await asyncio.sleep(0.3)
    await _report(p, "first " + XSS, user="1")
    await _report(p, "second", user="2")
    first, second = await reader
    assert first["event"] == "ticket"
    assert first["data"]["id"] == "T-1"
    assert "&lt;img" in first["data"]["html"]
    assert "<img" not in first["data"]["html"]
    # A reconnect with the first event's id gets the second again, and nothing before it.
    again = await _events(client, "/console/events?topic=queue", 1, {"Last-Event-ID": first["id"]})
    assert again[0]["data"]["id"] == second["data"]["id"] == "T-2"


async def test_scoped_user_never_sees_another_compound(rt: Runtime, client: Client) -> None:
    p = await _funnel(rt)
    await make_user(rt, "gm", Role.STAFF, scope="compound:guanmei")
    await sign_in(client, "gm")
    reader = asyncio.create_task(_events(client, "/console/events?topic=queue&from=0-0", 1))
    await asyncio.sleep(0.3)
    await _report(p, "other compound secret", target="telegram:-9", user="9")
    await _report(p, "our own leak", target="telegram:-5", user="5")
    (only,) = await reader
    assert only["data"]["id"] == "T-2"
    html = await (await client.get("/console/?status=all")).text()
    assert "our own leak" in html
    assert "other compound secret" not in html
    r = await client.get("/console/tickets/T-1")
    assert r.status == 404
    csrf = await session_csrf(client)
    r = await client.post("/console/tickets/T-1/claim", data={"csrf": csrf})
    assert r.status == 404


async def test_messages_that_became_no_ticket_are_shown_in_the_scope(
    rt: Runtime, client: Client
) -> None:
    # The funnel parked them (gateway.funnel.deadletters): no ticket, no answer to the
    # resident, so staff see them below the queue; each only inside their scope.
    consumer = FunnelConsumer(rt, name="c")
    for n, chat in enumerate(("telegram:-5", "telegram:-9")):
        event = message(f"lift smells of smoke {chat} {XSS}", target=chat, user="501")
        await consumer._dead_letter(f"{n}-1", {"e": encode_event(event)}, "KeyError: 'x'")
    await consumer._dead_letter("9-1", {"e": "{not json"}, "malformed inbound event")
    await make_user(rt, "li", Role.STAFF, scope="compound:guanmei")
    await sign_in(client, "li")
    page = await (await client.get("/console/")).text()
    assert "Messages that became no ticket" in page
    assert "lift smells of smoke telegram:-5" in page
    assert "telegram:-9" not in page
    assert "not json" not in page  # names no chat and no words: the operator's alone
    assert XSS not in page  # escaped
    assert "Li Wei · Got no answer" in page  # group chatter, maybe: not answered
    await make_user(rt, "wang", Role.STAFF)
    client.session.cookie_jar.clear()
    await sign_in(client, "wang")
    page = await (await client.get("/console/", headers={"Accept-Language": "zh"})).text()
    assert "未能生成工单的消息" in page
    assert "lift smells of smoke telegram:-9" in page
    assert page.count("lift smells of smoke") == 2  # the unreadable one is not listed


async def test_no_parked_messages_no_section(rt: Runtime, client: Client) -> None:
    await make_user(rt, "li", Role.STAFF)
    await sign_in(client, "li")
    assert 'id="parked"' not in await (await client.get("/console/")).text()


async def test_many_parked_messages_the_page_says_how_many_it_shows(
    rt: Runtime, client: Client
) -> None:
    # A staff room counts every parked message in its scope (up to 500); the page lists
    # the newest 20 and says so, so the two numbers never disagree in silence.
    consumer = FunnelConsumer(rt, name="c")
    for n in range(23):
        event = message(f"water in the basement #{n:02d}", target="telegram:-5", user="501")
        await consumer._dead_letter(f"{n}-1", {"e": encode_event(event)}, "KeyError: 'x'")
    await make_user(rt, "li", Role.STAFF, scope="compound:guanmei")
    await sign_in(client, "li")
    page = await (await client.get("/console/")).text()
    assert page.count("water in the basement #") == 20
    assert "#22" in page  # the newest first
    assert "#02" not in page
    assert "· 23</span>" in page
    assert "The newest 20 of 23 are shown" in page
    zh = await (await client.get("/console/", headers={"Accept-Language": "zh"})).text()
    assert "此处列出最新的 20 条，共 23 条" in zh


async def test_a_parked_message_says_whether_its_resident_was_answered(
    rt: Runtime, client: Client
) -> None:
    # A direct message is answered when parked (gateway.funnel.parked_answer).
    consumer = FunnelConsumer(rt, name="c")
    event = direct("tap water is brown", user="777")
    await consumer._dead_letter("1-1", {"e": encode_event(event)}, "KeyError: 'x'")
    await make_user(rt, "wang", Role.STAFF)
    await sign_in(client, "wang")
    page = await (await client.get("/console/")).text()
    assert "tap water is brown" in page
    assert "Told that staff will get back to them" in page
    zh = await (await client.get("/console/", headers={"Accept-Language": "zh"})).text()
    assert "已告知居民：工作人员会联系他们" in zh


async def test_staff_mark_a_parked_message_handled_or_file_it_again(
    rt: Runtime, client: Client
) -> None:
    consumer = FunnelConsumer(rt, name="c")
    for n, words in enumerate(("basement flooded", "door lock broken")):
        event = direct(words, user=f"80{n}")
        await consumer._dead_letter(f"{n}-1", {"e": encode_event(event)}, "KeyError: 'x'")
    await make_user(rt, "viewer", Role.VIEWER)
    await sign_in(client, "viewer")
    page = await (await client.get("/console/")).text()
    assert "basement flooded" in page
    assert "/console/parked/" not in page  # a viewer sees them, without the buttons
    client.session.cookie_jar.clear()
    await make_user(rt, "li", Role.STAFF)
    await sign_in(client, "li")
    csrf = await session_csrf(client)
    r = await client.post("/console/parked/0-1/handled", data={"csrf": csrf},
                          allow_redirects=False)  # fmt: skip
    assert (r.status, r.headers["Location"]) == (303, "/console/#parked")
    r = await client.post("/console/parked/1-1/retry", data={"csrf": csrf}, allow_redirects=False)
    assert r.status == 303
    page = await (await client.get("/console/")).text()
    assert 'id="parked"' not in page  # nothing left to act on
    assert await rt.redis.xlen(inbound_stream(rt.keys)) == 1  # the retried one, back in line
    r = await client.post("/console/parked/1-1/retry", data={"csrf": csrf})
    assert r.status == 404
    assert "someone may have handled it already" in await r.text()
    r = await client.post("/console/parked/0-1/delete", data={"csrf": csrf})
    assert r.status == 404


async def test_the_parked_list_follows_live_and_stays_in_the_scope(
    rt: Runtime, client: Client
) -> None:
    # Parking, retrying and marking handled each publish a console event; the queue page
    # fetches its list again (GET /console/parked), scoped like the page.
    await make_user(rt, "li", Role.STAFF, scope="compound:guanmei")
    await sign_in(client, "li")
    reader = asyncio.create_task(_events(client, "/console/events?topic=queue&from=0-0", 2))
    consumer = FunnelConsumer(rt, name="c")
    for n, chat in enumerate(("telegram:-9", "telegram:-5")):  # outside, then inside
        event = message(f"smoke on floor {n}", target=chat, user="501")
        await consumer._dead_letter(f"{n}-1", {"e": encode_event(event)}, "KeyError: 'x'")
    fragment = await (await client.get("/console/parked")).text()
    assert "smoke on floor 1" in fragment
    assert "smoke on floor 0" not in fragment
    csrf = await session_csrf(client)
    await client.post("/console/parked/1-1/handled", data={"csrf": csrf})
    got = await reader
    assert [(e["event"], e["data"]["what"]) for e in got] == [("parked", "parked"),
                                                            ("parked", "handled")]  # fmt: skip
    assert 'id="parked"' not in await (await client.get("/console/parked")).text()
