"""Which event loop runs a command: uvloop for ``palm run`` where it is installed.

palm's hot paths (a webhook answered, a delivery sent) are mostly socket work done by
the event loop: in profiles of ``palm run`` the loop's own ``epoll`` handling and the
socket writes were about 40 % of the process's CPU. uvloop (libuv, written in Cython)
does that work in C; ``bench.ingest`` measured about a fifth more webhooks per second
with it. The short CLI commands keep asyncio's own loop: they gain nothing from it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import Any, Literal

EventLoop = Literal["auto", "uvloop", "asyncio"]
CHOICES: tuple[EventLoop, ...] = ("auto", "uvloop", "asyncio")


class LoopUnavailable(Exception):
    """``--event-loop uvloop`` was asked for on a machine without uvloop."""


def runner(choice: EventLoop) -> Callable[[Coroutine[Any, Any, int]], int]:
    """``asyncio.run`` or ``uvloop.run``. ``auto``: uvloop when it can be imported."""
    if choice == "asyncio":
        return asyncio.run
    try:
        import uvloop
    except ImportError:  # not installed (e.g. Windows, where it does not exist)
        if choice == "uvloop":
            raise LoopUnavailable(
                "--event-loop uvloop: uvloop is not installed (pip install uvloop)"
            ) from None
        return asyncio.run
    run: Callable[[Coroutine[Any, Any, int]], int] = uvloop.run
    return run


def name() -> str:
    """The running loop's kind, for the start-up log line: ``uvloop`` or ``asyncio``."""
    loop = asyncio.get_running_loop()
    return "uvloop" if type(loop).__module__.startswith("uvloop") else "asyncio"
