"""A test stuck for ``PALM_TEST_STUCK_AFTER`` seconds (default 480) is stopped, and what
every asyncio task of it was waiting on is written to its report and to
``var/stuck-tests.log``.

A Matrix end-to-end test has hung for good in a whole-suite run (an await without a
deadline somewhere between the test, matrix-nio and Synapse), and the hung process
says nothing: its thread waits in ``epoll``. This turns such a hang into a failure that
names the await, and lets the rest of the suite run.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import threading
import time
import traceback
from collections.abc import Iterator
from pathlib import Path
from types import FrameType

import pytest

from gateway.ops.dump import describe_tasks

STUCK_AFTER = float(os.environ.get("PALM_TEST_STUCK_AFTER", "480"))
LOG = Path(__file__).resolve().parents[1] / "var" / "stuck-tests.log"
_current: list[str] = []


def _on_stuck(_signum: int, frame: FrameType | None) -> None:
    loop = asyncio.events._get_running_loop()
    where = describe_tasks(loop) if loop is not None else "".join(traceback.format_stack(frame))
    name = _current[0] if _current else "?"
    text = f"{time.strftime('%H:%M:%S')} {name} stuck for {STUCK_AFTER:.0f} s:\n{where}\n"
    LOG.parent.mkdir(parents=True, exist_ok=True)
    with LOG.open("a") as out:
        out.write(text)
    sys.stderr.write(text)
    if loop is not None:
        # Through the loop's self-pipe: epoll would otherwise sleep on after this handler.
        loop.call_soon_threadsafe(_cancel_all, loop)


def _cancel_all(loop: asyncio.AbstractEventLoop) -> None:
    for task in asyncio.all_tasks(loop):
        task.cancel(f"stuck for {STUCK_AFTER:.0f} s (see var/stuck-tests.log)")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item: pytest.Item) -> Iterator[None]:
    # Set-up, call and teardown: a fixture can hang as well as a test.
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGUSR2, _on_stuck)
    _current[:] = [item.nodeid]
    # To the main thread itself: a signal sent to the process may land in the timer's
    # thread, and the main one would sleep on in epoll.
    main = threading.main_thread().ident
    assert main is not None
    timer = threading.Timer(STUCK_AFTER, signal.pthread_kill, (main, signal.SIGUSR2))
    timer.daemon = True
    timer.start()
    try:
        yield
    finally:
        timer.cancel()
        signal.signal(signal.SIGUSR2, previous)
