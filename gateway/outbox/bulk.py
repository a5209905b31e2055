"""Large enqueues in chunks, so the first sends start while the rest is written.

Writing 100,000 deliveries in one atomic call keeps Redis busy for seconds, and not
one of them can go out before the last is written: a typhoon warning would leave
seconds late. ``enqueue_chunks`` writes ``CHUNK`` at a time instead, each chunk atomic
on its own, and the workers start on the first while the next is written.

What keeps it whole: the caller marks its record (a hash) as still being enqueued and
keeps a backstop that finishes the job after a crash (for announcements: the
scheduler, which re-enqueues the whole list; delivery ids are stable, so what exists
already is skipped). Each chunk is written under ``WATCH`` of that hash and built from
its state read under the same ``WATCH``: an edit or a recall that changes the hash
between the read and the write makes the write fail and the chunk be built again, so
every chunk either carries the edited text (or is not written, once recalled) or was
written before the change and is found by it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence

from redis.exceptions import WatchError

from gateway.outbox.model import OutboxItem
from gateway.outbox.store import OutboxStore
from gateway.runtime import Runtime

CHUNK = 1000
"""Deliveries per atomic write: a few ms of Redis time, so stamps and takes of the
workers already sending are not held up behind it."""

Build = Callable[[dict[str, str], Sequence[str]], list[OutboxItem] | None]
"""A chunk's items from the record's current fields and the chunk's targets; ``None``
stops the enqueue (the record was recalled)."""


async def enqueue_chunks(
    rt: Runtime,
    record_key: str,
    targets: Sequence[str],
    build: Build,
    after: Callable[[Sequence[str]], Awaitable[None]] | None = None,
) -> bool:
    """Enqueue ``build``'s items for every chunk of ``targets``; ``False`` if stopped.

    ``after(chunk)`` runs once a chunk is written (e.g. failing unconfigured targets).
    """
    store = OutboxStore(rt)
    for start in range(0, len(targets), CHUNK):
        part = targets[start : start + CHUNK]
        while True:
            async with rt.redis.pipeline(transaction=True) as pipe:
                await pipe.watch(record_key)
                fields = {str(k): str(v) for k, v in (await pipe.hgetall(record_key)).items()}
                items = build(fields, part)
                if items is None:
                    return False
                bodies, args = await store.prepare(items)
                pipe.multi()  # type: ignore[no-untyped-call]
                await store.add_to(pipe, bodies, args)
                try:
                    await pipe.execute()
                except WatchError:
                    continue  # edited or recalled meanwhile: build the chunk again
            break
        if after is not None:
            await after(part)
    return True
