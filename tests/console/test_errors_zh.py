"""A refusal in the console reads in the page's language; the API's stays English.

Staff who read the console in Chinese used to get palm's English error texts (and the
CLI's ``--force``): the composer's audience check, a claim on a ticket someone else
holds or one already resolved. No browser.
"""

from __future__ import annotations

from typing import Any

from aiohttp.test_utils import TestClient

from gateway.accounts import Role, TokenStore
from gateway.funnel import staff
from gateway.models import Command, TicketId
from gateway.runtime import Runtime
from tests.console.helpers import make_user, session_csrf, sign_in
from tests.funnel.conftest import Pipeline
from tests.funnel.factory import message

Client = TestClient[Any, Any]
JSON = {"Accept": "application/json"}


async def _in_chinese(client: Client, name: str) -> None:
    await sign_in(client, name)
    await client.get("/console/lang?to=zh&next=/console/")


async def _audience(client: Client, expr: str) -> dict[str, Any]:
    r = await client.get("/console/announce/audience", params={"to": expr})
    assert r.status == 200
    out: dict[str, Any] = await r.json()
    return out


async def test_the_composers_audience_check_speaks_chinese(rt: Runtime, client: Client) -> None:
    await make_user(rt, "li", Role.STAFF)
    await make_user(rt, "gm", Role.STAFF, scope="compound:guanmei")
    await _in_chinese(client, "li")
    assert await _audience(client, "building:5 &") == {
        "ok": False,
        "error": "「&」后面应是一个标签（第 13 个字符处）",
    }
    unknown = await _audience(client, "building:7")
    assert unknown["error"] == "受众「building:7」没有匹配到任何可用的群聊"
    await client.post("/console/signout", data={"csrf": await session_csrf(client)})
    await sign_in(client, "gm")  # a scoped account; the language cookie stays
    outside = await _audience(client, "building:9")
    assert outside["error"] == "这些群聊不在你负责的范围（compound:guanmei）内：telegram:-9"
    await client.get("/console/lang?to=en&next=/console/")
    english = await _audience(client, "building:7")
    assert english["error"] == "the audience 'building:7' matches no active target"


async def _claimed_by_wang(rt: Runtime) -> None:
    """T-1 from the group telegram:-5, claimed by ``wang``."""
    p = Pipeline(rt)
    await p.consumer.start()
    await p.feed(message("the bench is loose", target="telegram:-5", command=Command.REPORT))
    await make_user(rt, "wang", Role.STAFF)
    await make_user(rt, "li", Role.STAFF)
    await staff.claim(rt, TicketId("T-1"), "wang")


async def test_ticket_refusals_speak_chinese_and_name_the_consoles_control(
    rt: Runtime, client: Client
) -> None:
    await _claimed_by_wang(rt)
    await _in_chinese(client, "li")
    csrf = await session_csrf(client)
    r = await client.post("/console/tickets/T-1/claim", data={"csrf": csrf})
    assert r.status == 409
    page = await r.text()
    assert "T-1 已由 wang 认领；如要接手，请在工单页勾选「强制（接手）」再点「认领」" in page
    assert "--force" not in page
    assert "强制（接手）" in await (await client.get("/console/tickets/T-1")).text()
    r = await client.post("/console/tickets/T-1/reply", data={"csrf": csrf, "text": "  "})
    assert r.status == 400
    assert "回复内容是空的" in await r.text()

    r = await client.post("/console/tickets/T-1/resolve", data={"csrf": csrf, "note": "fixed"})
    assert r.status == 200  # resolved; now every further claim or resolve is refused
    r = await client.post("/console/tickets/T-1/claim", data={"csrf": csrf})
    assert r.status == 409
    assert "T-1 已经解决了，不能再认领" in await r.text()
    r = await client.post("/console/tickets/T-1/resolve", data={"csrf": csrf}, headers=JSON)
    assert r.status == 409
    assert await r.json() == {"error": {"code": "conflict", "message": "T-1 已经解决了"}}
    r = await client.get("/console/tickets/T-9")
    assert r.status == 404
    assert "没有工单 T-9" in await r.text()


async def test_the_api_answers_the_same_refusals_in_english(rt: Runtime, client: Client) -> None:
    await _claimed_by_wang(rt)
    token = await TokenStore(rt.redis, rt.keys).create("bot", Role.STAFF)
    headers = {"Authorization": f"Bearer {token}", "Accept-Language": "zh"}
    r = await client.post("/api/v1/tickets/T-1/claim", headers=headers)
    assert r.status == 409
    assert (await r.json())["error"]["message"] == (
        "T-1 is claimed by wang; use --force to take it over"
    )
    r = await client.post(
        "/api/v1/announcements", json={"text": "x", "to": "building:7"}, headers=headers
    )
    assert (await r.json())["error"]["message"] == (
        "the audience 'building:7' matches no active target"
    )


async def test_an_expired_session_tells_the_composer_why_in_its_language(
    rt: Runtime, client: Client
) -> None:
    await client.get("/console/lang?to=zh&next=/console/")
    r = await client.get("/console/announce/audience?to=building:5", headers=JSON)
    assert r.status == 401  # not the sign-in page: the composer shows the words
    assert await r.json() == {
        "error": {"code": "unauthorized", "message": "会话已过期：请重新登录。"}
    }
    assert (await client.get("/console/", allow_redirects=False)).status == 302
