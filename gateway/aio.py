"""Small asyncio helpers shared by palm's long-running loops."""

from __future__ import annotations

import asyncio
import sys
from typing import Any


def checkpoint() -> None:
    """Raise ``CancelledError`` if the current task is being cancelled.

    redis-py can swallow a cancellation that lands in the middle of a command (it
    reconnects and answers normally), so a loop that only ever awaits Redis might never
    see its cancel. Every long-running loop calls this once per turn.
    """
    task = asyncio.current_task()
    if task is not None and task.cancelling():
        raise asyncio.CancelledError


class TaskGroup(asyncio.TaskGroup):
    """``asyncio.TaskGroup`` without Python 3.11's leaked cancel.

    When a child fails while the group waits in ``__aexit__``, 3.11 cancels the parent
    task to wake it and never takes that cancel back (``uncancel``): the parent stays
    "cancelling" after the group has raised, so the next ``checkpoint()`` of a loop that
    handled the error (the Matrix owner after a lost lease) ends the loop for good.
    Later CPythons take it back after the wait; this does the same on 3.11.
    """

    async def __aexit__(self, et: Any, exc: Any, tb: Any) -> None:
        requested = getattr(self, "_parent_cancel_requested", True)
        try:
            await super().__aexit__(et, exc, tb)
        finally:
            # Requested only during the wait: 3.11's __aexit__ checked before it.
            if (
                sys.version_info < (3, 12)
                and not requested
                and getattr(self, "_parent_cancel_requested", False)
            ):
                self._parent_task.uncancel()  # type: ignore[attr-defined]
