"""Driving Debian's chromium with Playwright, as a person would: by labels and names.

Playwright's own browser download is not reachable here, so the system ``chromium`` is
launched. Screenshots go to ``var/screenshots/`` (CI keeps that folder).
"""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from urllib.parse import quote, urlsplit

import pytest
from playwright.async_api import Browser, BrowserContext, Page, async_playwright

from tests.core.helpers import REPO

SHOTS = REPO / "var" / "screenshots"
ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run",
]  # fmt: skip
DESKTOP = {"width": 1280, "height": 860}
PHONE = {"width": 390, "height": 844}


def chromium_path() -> str:
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if path is None:
        pytest.skip("chromium is not installed (scripts/test installs it)")
    return path


@asynccontextmanager
async def browser() -> AsyncIterator[Browser]:
    async with async_playwright() as p:
        b = await p.chromium.launch(executable_path=chromium_path(), args=ARGS)
        try:
            yield b
        finally:
            await b.close()


async def new_context(b: Browser, base: str, lang: str = "en") -> BrowserContext:
    ctx = await b.new_context(
        base_url=base, viewport=DESKTOP, locale="zh-CN" if lang == "zh" else "en-US",
        extra_http_headers={"Accept-Language": "zh-CN,zh" if lang == "zh" else "en-US,en"},
    )  # fmt: skip
    ctx.set_default_timeout(15_000)
    return ctx


async def sign_in(page: Page, name: str, password: str) -> None:
    await page.goto("/console/signin")
    await page.get_by_label("Name").fill(name)
    await page.get_by_label("Password").fill(password)
    await page.get_by_role("button", name="Sign in").click()


async def shoot(
    page: Page, name: str, prepare: Callable[[Page], Awaitable[None]] | None = None
) -> list[Path]:
    """The current page in en and zh, desktop and 390 px wide; back to en desktop after.

    ``prepare`` runs after each load (e.g. to fill a form the reload emptied).
    """
    SHOTS.mkdir(parents=True, exist_ok=True)
    parts = urlsplit(page.url)
    here = quote(parts.path + (f"?{parts.query}" if parts.query else ""), safe="")
    out = []
    for lang in ("en", "zh"):
        await page.goto(f"/console/lang?to={lang}&next={here}")
        await page.wait_for_load_state("load")
        if prepare is not None:
            await prepare(page)
        for label, size in (("desktop", DESKTOP), ("phone", PHONE)):
            await page.set_viewport_size(size)
            path = SHOTS / f"{name}-{lang}-{label}.png"
            await page.screenshot(path=str(path), full_page=True)
            out.append(path)
    await page.set_viewport_size(DESKTOP)
    await page.goto(f"/console/lang?to=en&next={here}")
    if prepare is not None:
        await prepare(page)
    return out
