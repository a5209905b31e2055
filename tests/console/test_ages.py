"""Ages and durations in the page's language: "5m ago" / "5m 3s" in English, "5分钟前" /
"5分钟3秒" in Chinese (they were English units on the Chinese pages), and "just now" / "刚刚"
under a minute (a bare "0秒" under "Received" read as a duration). No browser."""

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
        (0, "just now", "刚刚"),
        (9, "just now", "刚刚"),
        (5 * 60 + 3, "5m ago", "5分钟前"),
        (2 * 3600 + 5 * 60, "2h 5m ago", "2小时5分钟前"),
        (86400 + 3 * 3600, "1d 3h ago", "1天3小时前"),
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
        assert re.search(r"[（>]刚刚[）<]", zh), url
        assert "(刚刚)" not in zh, url  # full-width brackets on a Chinese page
        assert not re.search(r"[(>]\d+s[)<]|just now", zh), url
        en = await _page(client, url, "en")
        assert re.search(r"[(>]just now[)<]", en), url
        assert "秒" not in en, url
        assert "刚刚" not in en, url
