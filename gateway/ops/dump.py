"""``kill -USR1 <palm pid>``: what every task of the process is waiting on, to the log.

A palm that is alive but does nothing (no error logged, no progress) is waiting on
something: a Redis reply, a lock, a future nobody will set. Its threads' stacks only
show the event loop's ``select``; the tasks' own stacks say which ``await`` each one
sits in. Reading them does not disturb the tasks.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import traceback

log = logging.getLogger("palm.dump")

FRAMES = 12
"""Innermost frames shown per task: where it waits, and enough callers to say why."""


def describe_tasks(loop: asyncio.AbstractEventLoop | None = None) -> str:
    """Every unfinished task of ``loop``: its name, then its stack (outermost first)."""
    tasks = sorted(asyncio.all_tasks(loop), key=lambda t: t.get_name())
    out = [f"{len(tasks)} tasks"]
    for task in tasks:
        coro = task.get_coro()
        out.append(f"--- {task.get_name()} ({getattr(coro, '__qualname__', coro)!r})")
        frames = task.get_stack(limit=FRAMES)
        summary = traceback.StackSummary.extract((f, f.f_lineno) for f in frames)
        out.extend(line.rstrip("\n") for line in summary.format())
    return "\n".join(out)


def install(loop: asyncio.AbstractEventLoop) -> None:
    """Log the tasks on ``SIGUSR1`` (where the platform has it)."""
    sigusr1 = getattr(signal, "SIGUSR1", None)
    if sigusr1 is None:
        return
    loop.add_signal_handler(sigusr1, lambda: log.warning("tasks\n%s", describe_tasks(loop)))
