"""Composer, announcement page, and edit/recall that never wait on a platform (no browser)."""

from __future__ import annotations

import asyncio
import re
import time
from html import unescape as html_unescape
from typing import Any

import aiohttp
from aiohttp.test_utils import TestClient

from gateway import announcements
from gateway.accounts import Role, TokenStore
from gateway.errors import Rejected
from gateway.models import Platform, RateRule
from gateway.ratelimit import RateLimiter
from gateway.runtime import Runtime
from gateway.work import run_work
from tests.console.helpers import csrf_of, make_user, sign_in
from tests.fakes.memory_adapter import MemoryAdapter
from tests.outbox.helpers import wait_for, workers

Client = TestClient[Any, Any]
API = "/api/v1"


async def _composer(client: Client) -> dict[str, str]:
    html = await (await client.get("/console/announce")).text()
    idem = re.search(r'name="idem" value="([^"]+)"', html)
    assert idem is not None
    return {"csrf": csrf_of(html), "idem": idem.group(1)}


async def test_audience_matches_per_platform_or_the_column_error(
    rt: Runtime, client: Client
) -> None:
    await make_user(rt, "li", Role.STAFF)
    await sign_in(client, "li")
    ok = await (await client.get("/console/announce/audience?to=building:5")).json()
    assert ok["count"] == 2
    assert {p: v["count"] for p, v in ok["platforms"].items()} == {"matrix": 1, "telegram": 1}
    bad = await (await client.get("/console/announce/audience?to=building:5%20%26")).json()
    assert bad["ok"] is False
    assert "column" in bad["error"]


async def test_scoped_composer_refuses_an_audience_outside(rt: Runtime, client: Client) -> None:
    await make_user(rt, "gm", Role.STAFF, scope="compound:guanmei")
    await sign_in(client, "gm")
    out = await (await client.get("/console/announce/audience?to=building:9")).json()
    assert out["ok"] is False
    assert "telegram:-9" in out["error"]
    form = {**(await _composer(client)), "to": "building:9", "text": "hello"}
    r = await client.post("/console/announce", data=form, allow_redirects=False)
    assert r.status == 403
    assert await rt.redis.zcard(rt.keys("announcements")) == 0


async def test_preview_escapes_and_formats(rt: Runtime, client: Client) -> None:
    await make_user(rt, "li", Role.STAFF)
    await sign_in(client, "li")
    form = await _composer(client)
    r = await client.post(
        "/console/announce/preview",
        data={"text": "**Tue** <b>x</b>", "title": "Tank"},
        headers={"X-CSRF-Token": form["csrf"]},
    )
    p = await r.json()
    assert "<b>Tue</b>" in p["telegram"]
    assert "&lt;b&gt;x&lt;/b&gt;" in p["matrix"]


async def test_a_double_submit_makes_one_announcement(rt: Runtime, client: Client) -> None:
    await make_user(rt, "li", Role.STAFF)
    await sign_in(client, "li")
    form = {**(await _composer(client)), "to": "building:5", "text": "Tank cleaning Tue"}
    first, second = await asyncio.gather(
        client.post("/console/announce", data=form, allow_redirects=False),
        client.post("/console/announce", data=form, allow_redirects=False),
    )
    assert first.status == second.status == 303
    assert first.headers["Location"] == second.headers["Location"] == "/console/announcements/A-1"
    assert await rt.redis.zcard(rt.keys("announcements")) == 1
    page = await (await client.get("/console/announcements/A-1")).text()
    assert "telegram:-5" in page
    assert "matrix:!b5:example.org" in page


async def test_recall_with_a_full_group_budget_answers_at_once(rt: Runtime, client: Client) -> None:
    rule = RateRule("test:group:-5", 20, 60.0)
    tg = MemoryAdapter(platform=Platform("telegram"), rules=lambda t, k: [rule])
    rt.adapters["telegram"] = tg
    ann, _ = await announcements.create(rt, text="wrong notice", to="building:5")
    async with workers(rt):
        await wait_for(lambda: _settled(rt, ann.id))
    limiter = RateLimiter(rt.redis, rt.keys)
    while await limiter.try_acquire([rule]) == 0:  # the group's 20 per minute are used up
        pass
    token = await TokenStore(rt.redis, rt.keys).create("office", Role.STAFF)
    headers = {"Authorization": f"Bearer {token}"}
    work_task = asyncio.create_task(run_work(rt))
    try:
        r = await client.delete(f"{API}/announcements/{ann.id}", headers=headers)
        assert r.status == 202
        body = await r.json()
        assert body["work"].startswith("W-")
        # Matrix (no budget) is done while Telegram still waits for a permit.
        await wait_for(lambda: _result_for(client, headers, ann.id, "matrix:!b5:example.org"))
        detail = await (await client.get(f"{API}/announcements/{ann.id}", headers=headers)).json()
        results = {x["target"]: x["result"] for x in detail["work"][0]["results"]}
        assert results == {"matrix:!b5:example.org": "done"}
        assert tg.recalls == []
    finally:
        work_task.cancel()
        await asyncio.gather(work_task, return_exceptions=True)


async def _settled(rt: Runtime, ann_id: str) -> bool:
    return (await announcements.get(rt, ann_id)).status == "done"


async def _result_for(client: Client, headers: dict[str, str], ann_id: str, target: str) -> bool:
    detail = await (await client.get(f"{API}/announcements/{ann_id}", headers=headers)).json()
    return any(r["target"] == target for w in detail["work"] for r in w["results"])


async def test_edit_through_the_console_reports_each_chat(rt: Runtime, client: Client) -> None:
    ann, _ = await announcements.create(rt, text="Tank Tue", to="building:5")
    async with workers(rt):
        await wait_for(lambda: _settled(rt, ann.id))
    await make_user(rt, "li", Role.STAFF)
    await sign_in(client, "li")
    page = await (await client.get(f"/console/announcements/{ann.id}")).text()
    started = time.monotonic()
    r = await client.post(
        f"/console/announcements/{ann.id}/edit",
        data={"csrf": csrf_of(page), "text": "Tank Wed"},
        allow_redirects=False,
    )
    assert r.status == 303
    assert time.monotonic() - started < 30  # generous: the point is it did not do the work
    work_task = asyncio.create_task(run_work(rt))
    try:

        async def both() -> bool:
            live = await (await client.get(f"/console/announcements/{ann.id}/live")).text()
            return live.count('class="badge r-done"') == 2

        await wait_for(both)
    finally:
        work_task.cancel()
        await asyncio.gather(work_task, return_exceptions=True)
    for platform in ("telegram", "matrix"):
        adapter = rt.adapters[platform]
        assert isinstance(adapter, MemoryAdapter)
        assert [e[2] for e in adapter.edits] == ["Tank Wed"]


async def test_send_from_the_multipart_form_with_an_attachment(rt: Runtime, client: Client) -> None:
    await make_user(rt, "li", Role.STAFF)
    await sign_in(client, "li")
    form = aiohttp.FormData()
    for name, value in {**(await _composer(client)), "to": "building:5", "text": "see the flyer",
                        "title": "", "send_at": ""}.items():  # fmt: skip
        form.add_field(name, value)
    form.add_field("attachments", b"%PDF-1", filename="flyer.pdf", content_type="application/pdf")
    r = await client.post("/console/announce", data=form, allow_redirects=False)
    assert r.status == 303, await r.text()
    ann = await announcements.get(rt, "A-1")
    assert [a["filename"] for a in ann.attachments] == ["flyer.pdf"]


async def test_the_confirm_box_asks_residents_to_confirm(rt: Runtime, client: Client) -> None:
    await make_user(rt, "li", Role.STAFF)
    await sign_in(client, "li")
    page = await (await client.get("/console/announce", headers={"Accept-Language": "zh"})).text()
    assert "需要居民确认" in page
    base = {**(await _composer(client)), "to": "building:5", "text": "Water off Tue"}
    r = await client.post("/console/announce", data={**base, "confirm": "1"}, allow_redirects=False)
    assert r.status == 303
    plain = {**(await _composer(client)), "to": "building:5", "text": "Just news"}
    r = await client.post("/console/announce", data=plain, allow_redirects=False)
    assert r.status == 303
    assert (await announcements.get(rt, "A-1")).confirm is True
    assert (await announcements.get(rt, "A-2")).confirm is False


def _picks(html: str) -> list[tuple[str, str, str]]:
    """(label, data-expr, data-replace) of the composer's one-click audiences."""
    found = re.findall(
        r'<button type="button" class="pick[^"]*" data-expr="([^"]*)" '
        r'data-replace="(\d)">([^<]*)</button>',
        html,
    )
    return [(label, html_unescape(expr), replace) for expr, replace, label in found]


async def test_composer_offers_audiences_to_pick_inside_the_scope(
    rt: Runtime, client: Client
) -> None:
    from gateway.models import ChatKind, TargetId
    from gateway.targets import TargetDirectory

    directory = TargetDirectory(rt.redis, rt.keys)
    await directory.upsert(TargetId("telegram:-10"), ChatKind.GROUP, "Tower 10")
    await directory.tag(TargetId("telegram:-10"), ["building:10", "compound:guanmei"])
    await make_user(rt, "li", Role.STAFF)
    await sign_in(client, "li")
    html = await (await client.get("/console/announce")).text()
    assert _picks(html) == [
        ("All groups", "*", "1"),
        ("building:5", "building:5", "0"),
        ("building:9", "building:9", "0"),  # natural order: 5, 9, 10
        ("building:10", "building:10", "0"),
        ("compound:guanmei", "compound:guanmei", "0"),
        ("compound:other", "compound:other", "0"),
    ]
    await client.post("/console/signout", data={"csrf": csrf_of(html)})
    await make_user(rt, "gm", Role.STAFF, scope="compound:guanmei")
    await sign_in(client, "gm")
    await client.get("/console/lang?to=zh&next=/console/")
    html = await (await client.get("/console/announce")).text()
    picks = _picks(html)
    assert picks == [
        ("我负责的全部", "compound:guanmei", "1"),
        ("building:5", "compound:guanmei & building:5", "0"),
        ("building:10", "compound:guanmei & building:10", "0"),
    ]
    for _, expr, _ in picks:  # every pick is one this account may send to
        url = "/console/announce/audience?to=" + expr.replace("&", "%26").replace(" ", "%20")
        assert (await (await client.get(url)).json())["ok"] is True, expr


async def test_the_deliveries_show_a_reason_column_only_when_a_chat_has_a_reason(
    rt: Runtime, client: Client
) -> None:
    # An always-empty "Reason" column squeezed the chat names on a phone.
    await make_user(rt, "li", Role.VIEWER)
    await sign_in(client, "li")
    ann, _ = await announcements.create(rt, text="Tank Tue", to="building:5")
    async with workers(rt):
        await wait_for(lambda: _settled(rt, ann.id))
    live = await (await client.get(f"/console/announcements/{ann.id}/live?lang=en")).text()
    assert "<th>Reason</th>" not in live
    adapter = rt.adapters["telegram"]
    assert isinstance(adapter, MemoryAdapter)
    adapter.fail_always("telegram:-5", Rejected("message is too long"))
    again, _ = await announcements.create(rt, text="Tank Wed", to="building:5")
    async with workers(rt):
        await wait_for(lambda: _settled(rt, again.id))
    live = await (await client.get(f"/console/announcements/{again.id}/live?lang=en")).text()
    assert "<th>Reason</th>" in live
    assert "message is too long" in live


async def test_the_page_previews_only_the_platforms_it_went_to(rt: Runtime, client: Client) -> None:
    await make_user(rt, "li", Role.VIEWER)
    await sign_in(client, "li")
    both, _ = await announcements.create(rt, text="Tank Tue", to="building:5")
    one, _ = await announcements.create(rt, text="Tank Tue", to="building:9")  # Telegram only
    async with workers(rt):
        await wait_for(lambda: _settled(rt, one.id))
    page = await (await client.get(f"/console/announcements/{both.id}")).text()
    assert "<h3>Telegram</h3>" in page
    assert "<h3>Matrix</h3>" in page
    page = await (await client.get(f"/console/announcements/{one.id}")).text()
    assert "<h3>Telegram</h3>" in page
    assert "<h3>Matrix</h3>" not in page
