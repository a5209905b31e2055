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
from types import FrameType

log = logging.getLogger("palm.dump")

FRAMES = 30
"""Frames shown per task at most, outermost first."""


def describe_tasks(loop: asyncio.AbstractEventLoop | None = None) -> str:
    """Every unfinished task of ``loop``: its name, then the chain of awaits it is
    suspended in, outermost first, down to the innermost one (the line it waits on)."""
    tasks = sorted(asyncio.all_tasks(loop), key=lambda t: t.get_name())
    out = [f"{len(tasks)} tasks"]
    for task in tasks:
        coro = task.get_coro()
        out.append(f"--- {task.get_name()} ({getattr(coro, '__qualname__', coro)!r})")
        summary = traceback.StackSummary.extract((f, f.f_lineno) for f in awaiting(coro))
        out.extend(line.rstrip("\n") for line in summary.format())
    return "\n".join(out)


def awaiting(coro: object) -> list[FrameType]:
    """The frames of ``coro`` and of what it awaits, and so on inwards.

    ``Task.get_stack`` gives only a suspended task's outermost frame (its frame's
    ``f_back`` is empty); the awaits are followed here through ``cr_await`` (coroutines),
    ``ag_await`` (async generators: ``asynccontextmanager``) and ``gi_yieldfrom``.
    """
    frames: list[FrameType] = []
    while coro is not None and len(frames) < FRAMES:
        frame = next(
            (f for a in ("cr_frame", "ag_frame", "gi_frame") if (f := getattr(coro, a, None))),
            None,
        )
        if frame is not None:
            frames.append(frame)
        coro = next(
            (
                n
                for a in ("cr_await", "ag_await", "gi_yieldfrom")
                if (n := getattr(coro, a, None)) is not None
            ),
            None,
        )
        if frame is not None and type(coro).__name__ in _GENERATOR_STEPS:
            # An ``async with`` entering or leaving: the step object hides the generator,
            # the context manager in the frame holds it.
            coro = getattr(frame.f_locals.get("self"), "gen", None)
    return frames


_GENERATOR_STEPS = {"async_generator_asend", "async_generator_athrow"}


def install(loop: asyncio.AbstractEventLoop) -> None:
    """Log the tasks on ``SIGUSR1`` (where the platform has it)."""
    sigusr1 = getattr(signal, "SIGUSR1", None)
    if sigusr1 is None:
        return
    loop.add_signal_handler(sigusr1, lambda: log.warning("tasks\n%s", describe_tasks(loop)))
