"""Sign-in, sessions, CSRF, the slow-down, roles and the security headers (no browser)."""

from __future__ import annotations

from typing import Any

from aiohttp.test_utils import TestClient

from gateway.accounts import Role, UserStore
from gateway.console.sessions import FREE_FAILURES
from gateway.runtime import Runtime
from tests.console.helpers import csrf_of, make_user, session_csrf, sign_in

Client = TestClient[Any, Any]


async def test_pages_need_a_session_and_carry_security_headers(client: Client) -> None:
    r = await client.get("/console/", allow_redirects=False)
    assert r.status == 302
    assert r.headers["Location"] == "/console/signin"
    r = await client.get("/console/signin")
    csp = r.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp
    assert "unsafe-inline" not in csp
    assert "frame-ancestors 'none'" in csp
    assert r.headers["X-Frame-Options"] == "DENY"
    assert r.headers["Referrer-Policy"] == "same-origin"
    assert "<script>" not in await r.text()  # only <script src=...>


async def test_sign_in_sets_a_strict_httponly_cookie_and_sign_out_ends_it(
    rt: Runtime, client: Client
) -> None:
    await make_user(rt, "li", Role.STAFF)
    r = await sign_in(client, "li")
    assert r.status == 302
    cookie = r.headers["Set-Cookie"]
    assert "HttpOnly" in cookie
    assert "SameSite=Strict" in cookie
    assert "Secure" not in cookie
    page = await client.get("/console/")
    assert page.status == 200
    assert "li" in await page.text()
    csrf = csrf_of(await page.text())
    r = await client.post("/console/signout", data={"csrf": csrf}, allow_redirects=False)
    assert r.status == 302
    r = await client.get("/console/", allow_redirects=False)
    assert r.status == 302


async def test_cookie_is_secure_behind_https(rt: Runtime, client: Client) -> None:
    await make_user(rt, "li", Role.STAFF)
    page = await client.get("/console/signin", headers={"X-Forwarded-Proto": "https"})
    form = {"csrf": csrf_of(await page.text()), "name": "li", "password": "correct horse battery"}
    r = await client.post(
        "/console/signin", data=form, allow_redirects=False,
        headers={"X-Forwarded-Proto": "https"},
    )  # fmt: skip
    assert "Secure" in r.headers["Set-Cookie"]


async def test_wrong_password_then_slow_down_after_five(rt: Runtime, client: Client) -> None:
    await make_user(rt, "li", Role.STAFF)
    for _ in range(FREE_FAILURES):
        r = await sign_in(client, "li", "wrong password")
        assert r.status == 401
        assert "Wrong name or password." in await r.text()
    # Now even the right password must wait: the attempt is refused unchecked.
    r = await sign_in(client, "li")
    assert r.status == 429
    assert "try again in" in await r.text()
    # Another name is not slowed down.
    await make_user(rt, "wang", Role.STAFF)
    assert (await sign_in(client, "wang")).status == 302


async def test_sign_in_without_the_form_token_is_refused(rt: Runtime, client: Client) -> None:
    await make_user(rt, "li", Role.STAFF)
    r = await client.post(
        "/console/signin", data={"name": "li", "password": "correct horse battery"},
        allow_redirects=False,
    )  # fmt: skip
    assert r.status == 403


async def test_state_changing_post_without_csrf_is_refused(rt: Runtime, client: Client) -> None:
    await make_user(rt, "li", Role.STAFF)
    await sign_in(client, "li")
    body = {"to": "building:5", "text": "water off"}
    r = await client.post("/console/announce", data=body, allow_redirects=False)
    assert r.status == 403
    r = await client.post("/console/announce", data={**body, "csrf": "forged"})
    assert r.status == 403
    assert await rt.redis.zcard(rt.keys("announcements")) == 0


async def test_viewer_sees_no_send_and_the_server_refuses_anyway(
    rt: Runtime, client: Client
) -> None:
    await make_user(rt, "guest", Role.VIEWER)
    await sign_in(client, "guest")
    page = await (await client.get("/console/announce")).text()
    assert ">Send<" not in page
    body = {"to": "building:5", "text": "water off", "csrf": await session_csrf(client)}
    r = await client.post("/console/announce", data=body, allow_redirects=False)
    assert r.status == 403
    assert await rt.redis.zcard(rt.keys("announcements")) == 0


async def test_disabled_account_loses_its_session(rt: Runtime, client: Client) -> None:
    await make_user(rt, "li", Role.STAFF)
    await sign_in(client, "li")
    assert (await client.get("/console/", allow_redirects=False)).status == 200
    await UserStore(rt.redis, rt.keys).disable("li")
    assert (await client.get("/console/", allow_redirects=False)).status == 302


async def test_language_from_accept_language_and_the_switch(rt: Runtime, client: Client) -> None:
    page = await client.get("/console/signin", headers={"Accept-Language": "zh-CN,zh;q=0.9"})
    assert "登录" in await page.text()
    page = await client.get("/console/signin", headers={"Accept-Language": "en-US,en;q=0.9"})
    assert ">Sign in<" in await page.text()
    r = await client.get("/console/lang?to=zh&next=/console/signin")
    assert "登录" in await r.text()
    r = await client.get("/console/lang?to=en&next=https://evil.example/", allow_redirects=False)
    assert r.headers["Location"] == "/console/"
