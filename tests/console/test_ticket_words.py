"""The queue and ticket pages in plain words, in English and Chinese. No browser."""

from __future__ import annotations

from typing import Any, get_args

from aiohttp.test_utils import TestClient

from gateway.accounts import Role
from gateway.console import i18n
from gateway.models import Command
from gateway.rules import Category
from gateway.runtime import Runtime
from tests.console.helpers import make_user, sign_in
from tests.funnel.conftest import Pipeline
from tests.funnel.factory import message

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
