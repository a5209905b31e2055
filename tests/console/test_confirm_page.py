"""The composer's confirm box, the announcement page's live roll-up and its Remind button
(no browser)."""

from __future__ import annotations

import time
from typing import Any

from aiohttp.test_utils import TestClient

from gateway import announcements
from gateway.accounts import Role
from gateway.confirm.inbound import on_inbound
from gateway.confirm.store import ConfirmStore
from gateway.console.events import last_id, read_after
from gateway.households import HouseholdStore
from gateway.models import ButtonPress, Platform, PlatformMessageId, Sender, TargetId, UserId
from gateway.outbox import OutboxStore
from gateway.runtime import Runtime
from tests.console.helpers import csrf_of, make_user, sign_in
from tests.outbox.helpers import wait_for, workers

Client = TestClient[Any, Any]
TG = "telegram:-5"


async def _sent_notice(rt: Runtime) -> str:
    ann, _ = await announcements.create(rt, text="Water off Tue", to="building:5", confirm=True)
    async with workers(rt):
        await wait_for(lambda: _done(rt, ann.id))
    return ann.id


async def _done(rt: Runtime, ann_id: str) -> bool:
    return (await announcements.get(rt, ann_id)).status == "done"


async def _press(rt: Runtime, ann_id: str, uid: str, name: str) -> None:
    delivered = await OutboxStore(rt).get(f"{ann_id}:{TG}")
    assert delivered is not None
    assert delivered.message_ids
    press = ButtonPress(
        Platform("telegram"), f"press-{uid}", TargetId(TG),
        PlatformMessageId(delivered.message_ids[0]), Sender(UserId(uid), name),
        "palm:confirm", "", time.time(),
    )  # fmt: skip
    assert await on_inbound(rt, press)


async def _staff_on_the_page(rt: Runtime, client: Client, ann: str) -> str:
    """Wang has seen the notice and not confirmed; staff member li has its page open."""
    await ConfirmStore(rt.redis, rt.keys).seen(TG, "telegram:71", "Wang")
    await make_user(rt, "li", Role.STAFF)
    await sign_in(client, "li")
    return str(await (await client.get(f"/console/announcements/{ann}")).text())


async def test_rollup_by_chat_and_building_follows_a_confirmation(
    rt: Runtime, client: Client
) -> None:
    ann = await _sent_notice(rt)
    store = ConfirmStore(rt.redis, rt.keys)
    await store.seen(TG, "telegram:71", "Wang")
    await store.seen(TG, "telegram:72", "Zhao")
    homes = HouseholdStore(rt.redis, rt.keys, rt.config.households.unit_pattern)
    await homes.bind("telegram:71", "5-101", name="Wang")
    await homes.bind("telegram:72", "5-202", name="Zhao")
    await make_user(rt, "li", Role.STAFF)
    await sign_in(client, "li")
    page = await (await client.get(f"/console/announcements/{ann}")).text()
    assert 'id="rollup"' in page
    assert ">Remind<" in page
    assert "Wang, Zhao" in page
    assert '5-101 <span class="muted">(Wang)</span>; 5-202' in page
    # Chinese lists take Chinese punctuation.
    zh = await (
        await client.get(f"/console/announcements/{ann}", headers={"Accept-Language": "zh"})
    ).text()
    assert "Wang、Zhao" in zh
    assert '5-101<span class="muted">（Wang）</span>；5-202' in zh
    before = await last_id(rt.redis, rt.keys)
    await _press(rt, ann, "71", "Wang")
    events = await read_after(rt.redis, rt.keys, before, block_ms=1000)
    assert [(e.kind, e.subject, e.target) for e in events] == [("confirmation", ann, TG)]
    live = await (await client.get(f"/console/announcements/{ann}/live")).text()
    assert "<strong>1</strong> / 2" in live  # the chat: 1 of 2 known; building 5: 1 of 2 homes
    assert live.count("<strong>1</strong> / 2") == 2
    assert "Wang" not in live.split('id="rollup"')[1]  # only who has not confirmed is named


async def test_remind_once_an_hour_says_when_the_next_may_go(rt: Runtime, client: Client) -> None:
    ann = await _sent_notice(rt)
    page = await _staff_on_the_page(rt, client, ann)
    form = {"csrf": csrf_of(page)}
    first = await client.post(f"/console/announcements/{ann}/remind", data=form)
    assert first.status == 200
    assert "Reminders sent in 1 chat." in await first.text()
    again = await client.post(
        f"/console/announcements/{ann}/remind", data=form, allow_redirects=False
    )
    assert again.status == 303
    assert again.headers["Location"].endswith("?reminded=refused")
    body = await (await client.get(again.headers["Location"])).text()
    assert 'id="action-error"' in body
    assert "within the last hour" in body
    assert "The next reminder can go at" in body
    assert "(in 60 min)" in body
    zh = await (
        await client.get(again.headers["Location"], headers={"Accept-Language": "zh"})
    ).text()
    assert "未发送提醒" in zh
    # Without the flag the page still says when the next reminder may go.
    plain = await (await client.get(f"/console/announcements/{ann}")).text()
    assert "Next reminder possible at" in plain


async def test_viewer_sees_the_rollup_but_cannot_remind(rt: Runtime, client: Client) -> None:
    ann = await _sent_notice(rt)
    await make_user(rt, "vi", Role.VIEWER)
    await sign_in(client, "vi")
    page = await (await client.get(f"/console/announcements/{ann}")).text()
    assert 'id="rollup"' in page
    assert ">Remind<" not in page
    r = await client.post(f"/console/announcements/{ann}/remind", data={"csrf": csrf_of(page)})
    assert r.status == 403


async def test_remind_after_someone_recalled_it_says_so(rt: Runtime, client: Client) -> None:
    # The page was open when a colleague recalled the notice: Remind answered nothing.
    ann = await _sent_notice(rt)
    page = await _staff_on_the_page(rt, client, ann)
    await rt.redis.hset(rt.keys("announcement", ann), "status", announcements.RECALLED)
    r = await client.post(f"/console/announcements/{ann}/remind", data={"csrf": csrf_of(page)})
    assert r.status == 409
    assert "was recalled: nothing to confirm any more" in await r.text()
