"""gateway.aio.TaskGroup: asyncio's, without Python 3.11's leaked cancel."""

from __future__ import annotations

import asyncio
import contextlib

import pytest

from gateway.aio import TaskGroup


class Lost(Exception):
    pass


async def _fail_soon() -> None:
    await asyncio.sleep(0.01)
    raise Lost


async def test_a_child_failing_while_the_group_waits_leaves_the_parent_uncancelled() -> None:
    task = asyncio.current_task()
    assert task is not None
    with contextlib.suppress(ExceptionGroup):
        async with TaskGroup() as tg:
            tg.create_task(_fail_soon())
            tg.create_task(asyncio.sleep(3600))
    assert task.cancelling() == 0


async def test_a_child_failing_during_the_body_leaves_the_parent_uncancelled() -> None:
    task = asyncio.current_task()
    assert task is not None
    with contextlib.suppress(ExceptionGroup):
        async with TaskGroup() as tg:
            tg.create_task(_fail_soon())
            await asyncio.sleep(3600)
    assert task.cancelling() == 0


async def test_a_real_cancel_still_stops_the_group() -> None:
    started = asyncio.Event()

    async def victim() -> None:
        async with TaskGroup() as tg:
            tg.create_task(asyncio.sleep(3600))
            started.set()

    v = asyncio.create_task(victim())
    await started.wait()
    v.cancel()
    with pytest.raises(asyncio.CancelledError):
        await v
    assert v.cancelled()
