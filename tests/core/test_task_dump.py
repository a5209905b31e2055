"""``kill -USR1``: every task and the line it waits on (gateway/ops/dump.py)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
from collections.abc import AsyncIterator

import pytest

from gateway.ops import dump


async def _stuck_on(event: asyncio.Event) -> None:
    await event.wait()  # the line the dump must show


async def test_the_dump_names_each_task_and_the_line_it_waits_on() -> None:
    event = asyncio.Event()
    task = asyncio.create_task(_stuck_on(event), name="outbox-worker-3")
    await asyncio.sleep(0)
    text = dump.describe_tasks()
    event.set()
    await task
    assert "--- outbox-worker-3 ('_stuck_on')" in text
    assert "await event.wait()  # the line the dump must show" in text
    assert "test_task_dump.py" in text


async def test_sigusr1_logs_the_dump(caplog: pytest.LogCaptureFixture) -> None:
    loop = asyncio.get_running_loop()
    dump.install(loop)
    try:
        with caplog.at_level(logging.WARNING, logger="palm.dump"):
            os.kill(os.getpid(), signal.SIGUSR1)
            for _ in range(50):
                if caplog.records:
                    break
                await asyncio.sleep(0.01)
    finally:
        loop.remove_signal_handler(signal.SIGUSR1)
    assert caplog.records, "no dump logged"
    assert "test_sigusr1_logs_the_dump" in caplog.records[0].getMessage()


@contextlib.asynccontextmanager
async def _closing(event: asyncio.Event) -> AsyncIterator[None]:
    try:
        yield
    finally:
        await _stuck_on(event)


async def _leaving(event: asyncio.Event) -> None:
    async with _closing(event):
        pass


async def test_the_dump_follows_awaits_into_an_async_with() -> None:
    """A test stuck leaving ``async with running(...)`` showed only its own line."""
    event = asyncio.Event()
    task = asyncio.create_task(_leaving(event), name="leaving")
    await asyncio.sleep(0)
    text = dump.describe_tasks()
    event.set()
    await task
    lines = text.splitlines()
    start = lines.index("--- leaving ('_leaving')")
    shown = "\n".join(lines[start:])
    assert "in _leaving" in shown
    assert "in _closing" in shown
    assert "await event.wait()  # the line the dump must show" in shown
