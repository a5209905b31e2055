"""Ages and durations in the page's language: "9s" / "5m 3s" in English, "9秒" / "5分钟3秒"
in Chinese (they were English units on the Chinese pages). No browser."""

from __future__ import annotations

import re
import time
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from gateway.console.views import ago, duration
from gateway.runtime import Runtime
from tests.console.test_ticket_words import _hydrant, _page

Client = TestClient[Any, Any]


@pytest.mark.parametrize(
    ("seconds", "en", "zh"),
    [
        (9, "9s", "9秒"),
        (5 * 60 + 3, "5m", "5分钟"),
        (2 * 3600 + 5 * 60, "2h 5m", "2小时5分钟"),
        (86400 + 3 * 3600, "1d 3h", "1天3小时"),
    ],
)
def test_ago(seconds: int, en: str, zh: str) -> None:
    at = time.time() - seconds - 0.5  # half a second in hand for the clock moving on
    assert ago(at, "en") == en
    assert ago(at, "zh") == zh
    assert ago(at) == en  # the default, and an unknown language, is English
    assert ago(at, "fr") == en


@pytest.mark.parametrize(
    ("seconds", "en", "zh"),
    [(42, "42s", "42秒"), (303, "5m 3s", "5分钟3秒"), (7500, "2h 5m", "2小时5分钟")],
)
def test_duration(seconds: int, en: str, zh: str) -> None:
    assert duration(seconds, "en") == en
    assert duration(seconds, "zh") == zh
    assert duration(None, "zh") == "–"


async def test_the_queue_and_the_ticket_page_write_ages_in_their_language(
    rt: Runtime, client: Client
) -> None:
    await _hydrant(rt, client)
    for url in ("/console/", "/console/tickets/T-1", "/console/tickets/T-1/live"):
        zh = await _page(client, url, "zh")
        assert re.search(r"\d+秒", zh), url
        assert not re.search(r"[(>]\d+s[)<]", zh), url
        en = await _page(client, url, "en")
        assert re.search(r"[(>]\d+s[)<]", en), url
        assert "秒" not in en, url
