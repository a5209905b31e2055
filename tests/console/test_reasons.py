"""Why a delivery failed, in the staff member's words (gateway/console/reasons.py): the
stored reasons are English and often the platform's own text."""

from __future__ import annotations

from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from gateway import announcements
from gateway.accounts import Role
from gateway.console import i18n
from gateway.console.reasons import WORDS, explain, said
from gateway.errors import Rejected, TargetGone
from gateway.runtime import Runtime
from tests.console.helpers import make_user, sign_in
from tests.fakes.memory_adapter import MemoryAdapter
from tests.outbox.helpers import wait_for, workers

Client = TestClient[Any, Any]


@pytest.mark.parametrize(
    ("stored", "en", "zh"),
    [
        # texts the adapters and palm write (adapters/*/errors.py, normalize.py, attempts.py)
        ("bot was blocked by the user", "The resident has blocked the bot.", "居民已屏蔽机器人。"),
        ("Forbidden: bot was kicked from the group chat", "The bot was removed from this chat.",
         "机器人已被移出此会话。"),
        ("Bad Request: chat not found", "This chat no longer exists.", "此会话已不存在。"),
        ("telegram: Bad Request: message is too long", "The message is too long for the platform.",
         "消息超出了平台的长度限制。"),
        ("telegram: Bad Request: message can't be deleted for everyone",
         "Too old to recall: Telegram lets a bot recall its messages for 48 hours.",
         "消息太久，无法撤回：Telegram 只允许机器人撤回 48 小时内的消息。"),
        ("forbidden: the bot is not allowed in this room (You are not invited)",
         "The bot may not post in this chat.", "机器人在此会话中没有发言权限。"),
        ("kicked by @admin:example.org: spam", "The bot was removed from this chat.",
         "机器人已被移出此会话。"),
        ("target inactive: bot was blocked by the user", "The resident has blocked the bot.",
         "居民已屏蔽机器人。"),
        ("target inactive: something new", "The chat is no longer active.", "此会话已停用。"),
        ("gave up after 4 tries: telegram unreachable: ClientConnectorError",
         "The platform could not be reached. Not sent after 4 tries.",
         "无法连接到平台。尝试 4 次仍未发出。"),
        ("gave up after 2 tries: something new", "Not sent after 2 tries.", "尝试 2 次仍未发出。"),
        ("superseded by a later edit", "Replaced by a later edit.", "已被之后的修改取代。"),
        ("ambiguous send: telegram: no answer after sending (ServerDisconnectedError)",
         "No answer after sending: it may have arrived.", "发出后没有回应：可能已经送达。"),
    ],
)  # fmt: skip
def test_a_stored_reason_reads_as_words(stored: str, en: str, zh: str) -> None:
    assert explain(stored, "en") == en
    assert explain(stored, "zh") == zh


def test_an_unknown_reason_is_left_as_it_is() -> None:
    assert explain("telegram: Bad Request: something palm never saw", "zh") is None
    assert explain(None, "zh") is None
    assert explain("", "en") is None


def test_a_single_line_puts_the_page_s_language_before_unknown_words() -> None:
    raw = "telegram: Bad Request: something palm never saw"
    assert said(raw, "zh") == f"未送达。平台的原话：{raw}"
    assert said(raw, "en") == f"Not delivered. The platform said: {raw}"
    assert said("Forbidden: bot was blocked by the user", "en") == (
        "The resident has blocked the bot."
    )


def test_every_sentence_has_its_chinese() -> None:
    assert [w for w in WORDS if w not in i18n.ZH] == []


async def test_the_announcement_page_lists_failures_first_with_words(
    rt: Runtime, client: Client
) -> None:
    adapter = rt.adapters["telegram"]
    assert isinstance(adapter, MemoryAdapter)
    adapter.fail_always("telegram:-5", TargetGone("bot was kicked from the group chat"))
    adapter.fail_always("telegram:-9", Rejected("telegram: Bad Request: something odd"))
    ann, _ = await announcements.create(rt, text="Tank Tue", to="building:5 | building:9")
    async with workers(rt):
        await wait_for(lambda: _settled(rt, ann.id))
    await make_user(rt, "li", Role.VIEWER)
    await sign_in(client, "li")
    await client.get("/console/lang?to=zh&next=/console/")
    live = await (await client.get(f"/console/announcements/{ann.id}/live")).text()
    rows = live.split("<tbody>")[-1]
    # failed before sent; words first, the stored text beside them; for one no rule
    # knows, the page's language first all the same
    assert rows.index("telegram:-5") < rows.index("matrix:")
    assert rows.index("telegram:-9") < rows.index("matrix:")
    assert '机器人已被移出此会话。<div class="sub">bot was kicked from the group chat</div>' in rows
    assert '未送达。平台的原话：<div class="sub">telegram: Bad Request: something odd</div>' in rows
    chats = await (await client.get("/console/chats")).text()
    assert "机器人已被移出此会话。" in chats


async def _settled(rt: Runtime, ann_id: str) -> bool:
    return (await announcements.get(rt, ann_id)).status == "done"
