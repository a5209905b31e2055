"""The queue and ticket pages in plain words, in English and Chinese: categories, and
what palm sent to the resident (never a delivery id). No browser."""

from __future__ import annotations

import json
import re
from typing import Any, get_args

from aiohttp.test_utils import TestClient

from gateway.accounts import Role
from gateway.console import i18n
from gateway.console.ticket_view import sent_to_resident
from gateway.funnel.staff import ticket_delivery_hook
from gateway.models import Command
from gateway.outbox import OutboxStore
from gateway.rules import Category
from gateway.runtime import Runtime
from gateway.staffroom.feed import Feed
from tests.console.helpers import make_user, session_csrf, sign_in
from tests.fakes.memory_adapter import MemoryAdapter
from tests.funnel.conftest import Pipeline
from tests.funnel.factory import message
from tests.outbox.helpers import wait_for, workers

Client = TestClient[Any, Any]
HYDRANT = "/report the fire hydrant by building 5 is broken"


async def _hydrant(rt: Runtime, client: Client) -> None:
    """T-1, fire-safety, from the group telegram:-5; ``li`` (staff) is signed in."""
    p = Pipeline(rt)
    await p.consumer.start()
    await p.feed(message(HYDRANT, target="telegram:-5", command=Command.REPORT))
    await make_user(rt, "li", Role.STAFF)
    await sign_in(client, "li")


async def _page(client: Client, url: str, lang: str) -> str:
    await client.get(f"/console/lang?to={lang}&next=/console/")
    r = await client.get(url)
    assert r.status == 200
    return await r.text()


def test_every_category_of_the_rules_has_words_in_both_languages() -> None:
    for name in get_args(Category):
        en, zh = i18n.category(name, "en"), i18n.category(name, "zh")
        assert "-" not in en, name
        assert all("\u4e00" <= ch <= "\u9fff" for ch in zh), (name, zh)
    assert i18n.category("fire-safety", "en") == "fire safety"
    assert i18n.category("fire-safety", "zh") == "消防安全"
    assert i18n.category("roof", "zh") == "roof"  # unknown: as it is


async def test_category_in_words_on_the_queue_and_the_ticket(rt: Runtime, client: Client) -> None:
    await _hydrant(rt, client)
    for url in ("/console/", "/console/tickets/T-1", "/console/tickets/T-1/live"):
        en = await _page(client, url, "en")
        assert "fire safety" in en, url
        assert "fire-safety" not in en, url
        zh = await _page(client, url, "zh")
        assert "消防安全" in zh, url
        assert "fire-safety" not in zh, url


async def test_who_created_it_and_the_role_in_the_page_language(
    rt: Runtime, client: Client
) -> None:
    await _hydrant(rt, client)
    en = await _page(client, "/console/tickets/T-1", "en")
    assert "<b>resident</b> created" in en
    assert "li · staff ·" in en
    zh = await _page(client, "/console/tickets/T-1", "zh")
    assert "<b>居民</b> 创建" in zh
    assert "li · 工作人员 ·" in zh
    assert "resident" not in zh
    assert "staff" not in zh


async def _settled(rt: Runtime, want: int) -> bool:
    outbound = await rt.redis.hgetall(rt.keys("ticket", "T-1", "outbound"))
    states = [json.loads(v).get("state") for v in outbound.values()]
    return len(states) == want and "queued" not in states


async def test_sent_to_the_resident_in_words_and_in_order(rt: Runtime, client: Client) -> None:
    feed = Feed(rt)  # edits the group's acknowledgement as the ticket moves
    await feed.start()
    await _hydrant(rt, client)
    csrf = await session_csrf(client)
    for action, form in (("claim", {}), ("reply", {"text": "on the way"}), ("resolve", {})):
        r = await client.post(f"/console/tickets/T-1/{action}", data={"csrf": csrf, **form})
        assert r.status == 200
    while await feed.step(block_ms=10):
        pass
    async with workers(rt, {"ticket": ticket_delivery_hook}):
        # ack, the two edits of it, the reply, the resolution: each final.
        await wait_for(lambda: _settled(rt, 5))
    tg = rt.adapters["telegram"]
    assert isinstance(tg, MemoryAdapter)
    # The resident's group sees its acknowledgement edited: these are sends to the resident.
    # Both edits were queued before any worker ran: only the newer one is made, and the
    # older is recorded as not made.
    (overtaken,) = [
        d
        for d in await OutboxStore(rt).of_origin("ticket", "T-1")
        if d.delivery_id.startswith("T-1:status:claimed:")
    ]
    assert (overtaken.state, overtaken.reason) == ("superseded", "superseded by a later edit")
    assert [text for t, _, text in tg.edits if t == "telegram:-5"] == [
        next(text for t, _, text in tg.edits if "状态：已解决" in text)
    ]

    en = await _sent_list(client, "en")
    assert en == [
        "sent acknowledgement",
        "superseded acknowledgement not updated to “being handled”: a later update replaced it",
        "sent on the way",
        "sent 已解决",  # as sent: in the resident's language
        "sent acknowledgement updated: resolved",
    ]
    assert await _sent_list(client, "zh") == [
        "已发送 确认回执",
        "已被取代 确认回执未改为“正在处理”：已被后来的更新取代",
        "已发送 on the way",
        "已发送 已解决",
        "已发送 确认回执已更新：已解决",
    ]


async def _sent_list(client: Client, lang: str) -> list[str]:
    """The items of the ticket page's "Sent to the resident" list, as text."""
    html = await _page(client, "/console/tickets/T-1", lang)
    heading = "Sent to the resident" if lang == "en" else "已发给居民"
    items = html.split(f"<h2>{heading}</h2>", 1)[1].split("</ul>", 1)[0]
    return [
        " ".join(re.sub(r"<[^>]+>", " ", li).split())
        for li in re.findall(r"<li>(.*?)</li>", items, re.S)
    ]


def test_a_send_without_text_is_never_shown_by_its_delivery_id() -> None:
    detail = {
        "id": "T-7", "received_at": 100.0, "resolved_at": None,
        "history": [{"at": 150.0, "action": "claimed"}],
        "outbound": [
            {"delivery_id": "T-7:status:claimed", "state": "sent"},
            {"delivery_id": "T-7:reply:1", "state": "failed", "text": "hi", "at": 140.0,
             "reason": "blocked"},
            {"delivery_id": "T-7:later-kind", "state": "sent"},
            {"delivery_id": "T-7:ack", "state": "sent"},
        ],
    }  # fmt: skip
    shown = [(s.state, s.text or s.words, s.reason) for s in sent_to_resident(detail)]
    assert shown == [
        ("sent", "acknowledgement", None),
        ("sent", "message from palm", None),  # a kind this console does not know yet
        ("failed", "hi", "blocked"),
        ("sent", "acknowledgement updated: being handled", None),
    ]
    for _, words, _ in shown:
        assert words in i18n.ZH or words == "hi"


def test_an_edit_overtaken_by_a_newer_one_is_never_shown_as_sent() -> None:
    reason = "superseded by a later edit"
    detail = {
        "id": "T-8", "received_at": 100.0, "resolved_at": 300.0,
        "history": [{"at": 150.0, "action": "claimed"}],
        "outbound": [
            {"delivery_id": "T-8:ack", "state": "sent"},
            {"delivery_id": "T-8:status:claimed", "state": "superseded", "reason": reason},
            {"delivery_id": "T-8:status:resolved", "state": "sent"},
        ],
    }  # fmt: skip
    shown = [(s.state, s.text or s.words, s.reason) for s in sent_to_resident(detail)]
    assert shown == [
        ("sent", "acknowledgement", None),
        (
            "superseded",
            "acknowledgement not updated to “being handled”: a later update replaced it",
            None,  # the words say it, in the page's language; the reason is English
        ),
        ("sent", "acknowledgement updated: resolved", None),
    ]
    for state, words, _ in shown:
        assert state in i18n.ZH
        assert words in i18n.ZH
