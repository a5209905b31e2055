"""The device lease on the real Redis: one owner, fenced epochs, takeover after a lapse."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from redis.asyncio import Redis

from adapters.matrix.owner import DeviceLease, Ownership
from gateway.keys import Keys


async def test_one_owner_at_a_time_and_a_new_epoch_on_takeover(redis: Redis, keys: Keys) -> None:
    key = keys("matrix", "@bot:x", "device-lease")
    a = DeviceLease(redis, key, "host:1:a", ttl=0.5)
    b = DeviceLease(redis, key, "host:2:b", ttl=0.5)
    assert await a.try_take()
    assert not await b.try_take()
    assert await a.try_take()  # a renewal
    assert a.value is not None
    epoch_a = int(a.value.split(":")[0])
    assert await b.holder() == a.value

    await asyncio.sleep(0.7)  # a stops renewing (frozen, killed): the lease lapses
    assert a.remaining() == 0
    assert await b.try_take()
    assert b.value is not None
    assert int(b.value.split(":")[0]) == epoch_a + 1
    # The old owner can neither renew nor release what b holds now.
    assert not await a.try_take()
    await a.release()
    assert await b.holder() == b.value


async def test_ownership_runs_the_work_only_while_the_lease_is_held(
    redis: Redis, keys: Keys
) -> None:
    key = keys("matrix", "@bot:x", "device-lease")
    first = Ownership(DeviceLease(redis, key, "host:1:a", ttl=1.0), margin=0.2)
    second = Ownership(DeviceLease(redis, key, "host:2:b", ttl=1.0), margin=0.2)
    running: list[str] = []

    def work(name: str):  # type: ignore[no-untyped-def]
        async def run() -> None:
            running.append(name)
            await asyncio.Event().wait()

        return run

    t1 = asyncio.create_task(first.run(work("first")))
    await _until(lambda: running == ["first"])
    t2 = asyncio.create_task(second.run(work("second")))
    await asyncio.sleep(1.0)
    assert running == ["first"]
    assert first.owned()
    assert not second.owned()

    # Someone else's value in the key (the first owner was frozen past its lease and
    # another process took over): the first owner notices at its next renewal and stops.
    await redis.set(key, "99:intruder", px=1500)
    await _until(lambda: not first.owned())
    # Once the intruder's lease lapses, one of the two owns again (whoever takes first)
    # and its work starts afresh; never both.
    await _until(lambda: len(running) == 2, within=10)
    await asyncio.sleep(0.3)
    assert first.owned() != second.owned()
    assert len(running) == 2
    for t in (t1, t2):
        t.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await t


async def test_an_owner_that_lost_the_lease_takes_it_again(redis: Redis, keys: Keys) -> None:
    # Alone, the owner must own again once the intruder's lease lapses. On Python 3.11
    # a plain asyncio.TaskGroup left the owner's task "cancelling" after the lost
    # lease, and its loop's next checkpoint() ended it: the device had no owner for good.
    key = keys("matrix", "@bot:x", "device-lease")
    owner = Ownership(DeviceLease(redis, key, "host:1:a", ttl=1.0), margin=0.2)
    running: list[int] = []

    async def work() -> None:
        running.append(1)
        await asyncio.Event().wait()

    task = asyncio.create_task(owner.run(work))
    try:
        await _until(lambda: running == [1])
        await redis.set(key, "99:intruder", px=1500)
        await _until(lambda: not owner.owned())
        await _until(lambda: len(running) == 2, within=10)
        assert owner.owned()
        assert not task.done()
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def _until(check, within: float = 5.0) -> None:  # type: ignore[no-untyped-def]
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while not check():
        assert loop.time() < deadline, "timed out"
        await asyncio.sleep(0.02)


class _SwallowingLease(DeviceLease):
    """A renewal that answers normally although its task was cancelled meanwhile, as
    redis-py can do when a cancel lands in the middle of a command."""

    def __init__(self, *args: Any, **kw: Any) -> None:
        super().__init__(*args, **kw)
        self.calls = 0
        self.renewing = asyncio.Event()
        self.swallowed = 0

    async def try_take(self) -> bool:
        self.calls += 1
        if self.calls > 1:  # the first is the take; the renewer's come after
            self.renewing.set()
            try:
                await asyncio.sleep(0.2)  # the command on its way
            except asyncio.CancelledError:
                self.swallowed += 1  # no uncancel(): the task still counts the cancel
        return await super().try_take()


async def test_a_cancel_swallowed_in_a_renewal_still_stops_the_ownership(
    redis: Redis, keys: Keys
) -> None:
    """Before: the TaskGroup cancelled the work and the renewer; the renewer's cancel
    was lost in its renewal, so the group (aborting, deaf to more cancels) waited for it
    for ever, and `palm run` could not stop (a Matrix e2e test hung so in CI)."""
    lease = _SwallowingLease(redis, keys("matrix", "@bot:x", "device-lease"), "h:1:a", ttl=2.0)
    ownership = Ownership(lease, margin=0.05)

    async def work() -> None:
        await asyncio.Event().wait()

    task = asyncio.create_task(ownership.run(work))
    await asyncio.wait_for(lease.renewing.wait(), 5)
    task.cancel()
    await asyncio.wait({task}, timeout=5)  # no wait_for: it would wait for ever too
    assert lease.swallowed == 1
    assert task.done(), "the ownership did not stop"
