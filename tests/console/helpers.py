"""Signing in to the console from aiohttp's test client, as a browser would."""

from __future__ import annotations

import re
from typing import Any

from aiohttp.test_utils import TestClient

from gateway.accounts import Role, UserStore
from gateway.runtime import Runtime

PASSWORD = "correct horse battery"
_CSRF = re.compile(r'name="csrf" value="([^"]+)"')


def csrf_of(html: str) -> str:
    m = _CSRF.search(html)
    assert m is not None, "no CSRF field on the page"
    return m.group(1)


async def make_user(rt: Runtime, name: str, role: Role, scope: str | None = None) -> None:
    await UserStore(rt.redis, rt.keys).create(name, role, PASSWORD, scope)


async def sign_in(client: TestClient[Any, Any], name: str, password: str = PASSWORD) -> Any:
    page = await client.get("/console/signin")
    form = {"csrf": csrf_of(await page.text()), "name": name, "password": password}
    return await client.post("/console/signin", data=form, allow_redirects=False)


async def session_csrf(client: TestClient[Any, Any]) -> str:
    return csrf_of(await (await client.get("/console/")).text())
