"""Group commit for the fan-out's Redis calls: one round trip per batch of deliveries.

Every delivery makes the same few calls (take, rate permit, begin, stamp, settle), and
with many workers most of them are waiting for Redis at any moment. A ``Batcher`` sends
each call at once when nothing is on its way; calls made while a batch is on its way
wait and go together in the next one: one pipeline (no MULTI), one write, one read.
So a lone call costs what it did, and under load N deliveries cost one round trip and
one wake-up of each worker instead of N round trips through the connection pool.

Each call keeps its own meaning: a Lua script is still atomic on its own, and a batch
is no transaction (one call's error is that call's alone). A connection error fails
every call of the batch with that error, exactly as if each had been sent alone and
lost: the callers' handling of a lost reply (take-over, ambiguity) is unchanged.

Scripts go as ``EVALSHA``, never through redis-py's pipeline script support, which asks
``SCRIPT EXISTS`` first (a second round trip per batch); a ``NOSCRIPT`` answer (a
restarted or flushed Redis) loads the script and runs that call again in the next batch.

``submit`` and ``submit_script`` queue a call and return its future without waiting:
a caller can put several calls in one batch and await them after (no task per call),
or queue one (an ack) to go with its next call.
"""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any

from redis.asyncio import Redis
from redis.asyncio.client import Pipeline
from redis.commands.core import AsyncScript
from redis.exceptions import NoScriptError

MAX_BATCH = 256
"""Calls per pipeline: bounds the time one batch holds its connection and the event loop."""

Queue = Callable[[Pipeline], object]
"""Queues exactly one command on the pipeline it is given."""


@dataclass(frozen=True, slots=True)
class _Call:
    queue: Queue
    future: asyncio.Future[Any]
    script: AsyncScript | None = None
    """Set for an ``EVALSHA``: on ``NOSCRIPT`` the flusher loads it and queues the call again."""


class Batcher:
    """The group commit of one Redis client (``for_client`` shares it per client)."""

    def __init__(self, redis: Redis) -> None:
        self._redis = redis
        self._pending: list[_Call] = []
        self._flusher: asyncio.Task[None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def submit(self, queue: Queue, script: AsyncScript | None = None) -> asyncio.Future[Any]:
        """Queue the one command ``queue`` puts on a pipeline; its answer (or error) in
        the future."""
        loop = asyncio.get_running_loop()
        if loop is not self._loop:
            # A client used from a new event loop (tests): the old loop's batch is gone.
            self._loop, self._pending, self._flusher = loop, [], None
        c = _Call(queue, loop.create_future(), script)
        self._pending.append(c)
        if self._flusher is None or self._flusher.done():
            # A task of its own: a cancelled caller must not take the batch down with it.
            self._flusher = loop.create_task(self._flush())
        return c.future

    def submit_script(
        self, script: AsyncScript, keys: Sequence[Any], args: Sequence[Any]
    ) -> asyncio.Future[Any]:
        """Queue ``script(keys, args)``; its answer in the future."""
        n = len(keys)

        def queue(pipe: Pipeline) -> object:
            return pipe.evalsha(script.sha, n, *keys, *args)

        return self.submit(queue, script)

    async def call(self, queue: Queue) -> Any:
        """The answer to the one command ``queue`` puts on a pipeline; its error raised."""
        return await self.submit(queue)

    async def script(self, script: AsyncScript, keys: Sequence[Any], args: Sequence[Any]) -> Any:
        """``script(keys, args)`` in the next batch."""
        return await self.submit_script(script, keys, args)

    async def _flush(self) -> None:
        while self._pending:
            calls, self._pending = self._pending[:MAX_BATCH], self._pending[MAX_BATCH:]
            pipe = self._redis.pipeline(transaction=False)
            for c in calls:
                c.queue(pipe)
            try:
                results = await pipe.execute(raise_on_error=False)
            except asyncio.CancelledError:
                # The loop is going away: the callers are told, nobody waits forever.
                for c in (*calls, *self._pending):
                    if not c.future.done():
                        c.future.cancel()
                self._pending = []
                raise
            except Exception as exc:
                for c in calls:
                    if not c.future.done():
                        c.future.set_exception(exc)
                continue
            for c, res in zip(calls, results, strict=True):
                if c.future.done():
                    continue  # its caller was cancelled; the command ran all the same
                if isinstance(res, NoScriptError) and c.script is not None:
                    await self._reload(c)
                elif isinstance(res, Exception):
                    c.future.set_exception(res)
                else:
                    c.future.set_result(res)

    async def _reload(self, c: _Call) -> None:
        """Load ``c``'s script (Redis restarted or was flushed) and queue ``c`` again."""
        assert c.script is not None
        try:
            c.script.sha = await self._redis.script_load(c.script.script)
        except Exception as exc:
            if not c.future.done():
                c.future.set_exception(exc)
            return
        self._pending.append(replace(c, script=None))  # NOSCRIPT again: an error, no loop


def retrieved(future: asyncio.Future[Any]) -> None:
    """A done callback for a future nobody will await: its error is known elsewhere."""
    if not future.cancelled():
        future.exception()


_BATCHERS: weakref.WeakKeyDictionary[Redis, Batcher] = weakref.WeakKeyDictionary()


def for_client(redis: Redis) -> Batcher:
    """The batcher of ``redis``: every worker, store and limiter on it shares one."""
    b = _BATCHERS.get(redis)
    if b is None:
        b = _BATCHERS[redis] = Batcher(redis)
    return b
