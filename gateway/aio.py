"""Small asyncio helpers shared by palm's long-running loops."""

from __future__ import annotations

import asyncio


def checkpoint() -> None:
    """Raise ``CancelledError`` if the current task is being cancelled.

    redis-py can swallow a cancellation that lands in the middle of a command (it
    reconnects and answers normally), so a loop that only ever awaits Redis might never
    see its cancel. Every long-running loop calls this once per turn.
    """
    task = asyncio.current_task()
    if task is not None and task.cancelling():
        raise asyncio.CancelledError
