"""Delivery workers: take queued deliveries from the streams and send them.

Per platform with a started adapter, ``config.outbox.workers`` tasks read with one
consumer group shared by every palm process. A task reads up to ``PREFETCH`` entries of
each stream at once (urgent ones first), and every take of a normal delivery also reads
one new urgent entry in the same round trip, which goes before the rest of the batch: so
urgent work overtakes the normal backlog at the next delivery of any worker.

A delivery's life in one worker::

    take (owner := me, takes += 1; or parked out of the stream while the message
      queued before it in its ticket is not final) -> final already? hook + ack
      -> crashed while sending it too often? dead-letter
      -> rate permit -> begin (still queued and mine?) + stamp the permit
      -> adapter.send -> sent | retry | failed -> record -> hook -> XACK + XDEL
      (without a hook "record" acks in the same Lua call)

Each of those Redis steps goes in the process's group commit (``gateway.batch``): the
steps of all workers that wait at the same moment share one round trip. Reading,
holding and the lease of the held entries are in ``gateway.outbox.reader``; the send
attempts (permit, begin, adapter.send, retries) in ``gateway.outbox.attempts``.
A delivery that must wait before a retry hands the rest of the batch back (re-queued
at the tail, atomically) so it holds no other delivery up. The ``owner`` check just before sending
stops a stalled worker from sending what its successor already sent, and a delivery
found ``inflight`` at take was being sent when its worker died: resending it may
duplicate on Telegram, so that case is counted.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from collections.abc import Mapping

from redis.exceptions import RedisError

from gateway.adapter import OwnerRouted
from gateway.aio import TaskGroup, checkpoint
from gateway.errors import StoreUnavailable
from gateway.metrics import DELIVERIES, DELIVERY_SECONDS
from gateway.ops.replication import wait_replicas
from gateway.outbox.attempts import FINISHED, LOST, YIELD, Attempts
from gateway.outbox.model import (
    FAILED,
    FINAL,
    SENT,
    SUPERSEDED,
    Delivery,
    DeliveryHook,
    Parked,
    Taken,
)
from gateway.outbox.reader import all_done, ensure_groups, entries, owner_partition
from gateway.outbox.unreplicated import unreplicated
from gateway.runtime import Runtime

__all__ = ["ensure_groups", "owner_partition", "run_workers"]

log = logging.getLogger("palm.outbox")

TAKES_BACKSTOP = 3
"""A delivery whose holders died ``TAKES_BACKSTOP * max_attempts`` times before it was
ever in flight (a poison that kills palm before the send) is dead-lettered too."""


async def run_workers(rt: Runtime, hooks: Mapping[str, DeliveryHook] | None = None) -> None:
    """Run the delivery workers for every started adapter until cancelled."""
    hooks = dict(hooks or {})
    # The groups first, outside the TaskGroup: a Redis error there is then a plain one,
    # which palm's component loop retries, not a TaskGroup's ExceptionGroup (a crash).
    for platform, adapter in rt.adapters.items():
        await ensure_groups(rt, platform)
        if isinstance(adapter, OwnerRouted):
            await ensure_groups(rt, owner_partition(platform))
    async with TaskGroup() as tg:
        for platform, adapter in rt.adapters.items():
            checkpoint()
            for n in range(rt.config.outbox.workers):
                worker = _Worker(rt, platform, adapter, hooks, n)
                tg.create_task(worker.run())
            if isinstance(adapter, OwnerRouted):
                part = owner_partition(platform)
                for n in range(rt.config.outbox.workers):
                    tg.create_task(_Worker(rt, platform, adapter, hooks, n, part).run())
        if not rt.adapters:
            log.info("no adapters started: delivery workers idle")


class _Worker(Attempts):
    async def run(self) -> None:
        try:
            async with TaskGroup() as tg:
                tg.create_task(self._lease())
                await self._work()
        except asyncio.CancelledError:
            # A graceful stop: the entries read but not started go back to the streams
            # now, rather than waiting claim_idle_seconds for a take-over.
            with contextlib.suppress(Exception):
                await asyncio.shield(self._hand_back())
            with contextlib.suppress(Exception):
                await asyncio.shield(self._send_acks())
            raise

    async def _work(self) -> None:
        while True:
            checkpoint()
            try:
                if not self._batch:
                    await self._send_acks()
                    self._hold(await self._next())
                while self._batch:
                    await self._handle(*self._batch.popleft())
            except (RedisError, OSError, StoreUnavailable) as exc:
                # StoreUnavailable: the rate limiter's own translation of a Redis error.
                # redis-py may turn a cancellation during a blocking read into a
                # connection error: a cancelled worker must stop, not retry.
                checkpoint()
                # Redis is away: nothing is lost (entries stay pending); try again soon.
                log.warning("outbox worker: redis error", extra={"error": str(exc)})
                await asyncio.sleep(1.0)

    # --- one delivery ---------------------------------------------------------
    async def _handle(self, stream: str, entry_id: str, delivery_id: str) -> None:
        owner = f"{self.consumer}:{secrets.token_hex(4)}"
        step = _DONE
        try:
            step = await self._deliver(stream, entry_id, delivery_id, owner)
            if step == _ACK:
                # Sent with the next take (one round trip for both) or before the next
                # read. Lost in a crash, it is done again when the entry is taken over
                # and found final (the hook runs again: it is idempotent).
                self._acks.append((stream, entry_id, delivery_id))
        except asyncio.CancelledError:
            with contextlib.suppress(Exception):
                await asyncio.shield(self.store.release(delivery_id))
            raise
        finally:
            # Done, or left pending for a take-over (a Redis error, our lease lost);
            # a deferred entry is back in the batch and stays held.
            if step != _DEFERRED:
                self._held.pop(entry_id, None)

    async def _deliver(self, stream: str, entry_id: str, delivery_id: str, owner: str) -> str:
        """``_ACK`` when the caller must ack the entry, ``_DONE`` when nothing is left to
        do (acked, or left to its new owner), ``_DEFERRED`` when it went back to the batch."""
        acks = self._queue_acks()  # in the same round trip as the take
        # Urgent work overtakes normal work; behind an urgent delivery it simply queues.
        peek = self.streams[0] if stream != self.streams[0] else None
        try:
            took, urgent = await self.store.take_and_peek(
                delivery_id, owner, peek, self.consumer, self.targets.hash_prefix,
                (stream, entry_id),
            )  # fmt: skip
        finally:
            await all_done(acks)
        peeked = entries(urgent)
        if isinstance(took, Parked):
            # The message before it (same ticket) is still queued: the take parked it,
            # out of the stream, and that one's last step puts it back. Nothing to ack.
            self._hold(peeked, first=True)
            return _DONE
        if peeked and stream != self.streams[0] and took is not None and _untouched(took):
            # New urgent work goes before this normal one, which nobody has sent yet: it
            # is given back (the take undone) and taken again right after.
            await self.store.release(delivery_id)
            self._hold([*peeked, (stream, entry_id, delivery_id)], first=True)
            return _DEFERRED
        self._hold(peeked, first=True)  # after this one, before the batch
        if took is None:
            log.warning("stream entry for an unknown delivery", extra={"delivery": delivery_id})
            return _ACK
        state, takes, inflight, crashes = took.state, took.takes, took.inflight, took.crashes
        if state in FINAL:
            # Finished before a crash stopped the ack: run the hook again (it is idempotent).
            return _ack_if(await self._finish(took.delivery, changed=False))
        lagged = unreplicated(self.rt.redis).pop(delivery_id)
        if inflight:
            await self._count_duplicate_risk(delivery_id)
        elif lagged:
            # Recorded sent here while the replicas lagged, and found unsent: a failover
            # lost the record (gateway.outbox.unreplicated). It goes out again, counted.
            await self._count_duplicate_risk(delivery_id, why="its record was lost in a failover")
        # Only a crash while this delivery was being sent blames it: the other deliveries
        # a dying process merely held (waiting for a rate permit) are innocent, and a
        # poison that kills palm every time would otherwise dead-letter them too.
        if crashes >= self.cfg.max_attempts or takes - 1 >= TAKES_BACKSTOP * self.cfg.max_attempts:
            reason = f"dead-lettered after {crashes} crashed attempts"
            if crashes < self.cfg.max_attempts:  # killed before sending, every time
                reason = f"dead-lettered after {takes - 1} crashed takes"
            changed, d = await self.store.settle(delivery_id, FAILED, reason=reason)
            await self.store.dead_letter(delivery_id)
            log.error("dead-lettered", extra={"delivery": delivery_id, "crashes": crashes})
            return _ack_if(await self._finish(d, changed=changed))
        if (to := await self._owner_stream(stream, took.delivery)) is not None:
            await self.store.forward(stream, entry_id, delivery_id, to)
            return _DONE
        outcome = await self._attempts(took.delivery, owner, took.target)
        if outcome.state == LOST.state:
            return _DONE  # its new owner acks it
        if outcome.state == YIELD.state:
            # An automatic answer over its share: to the tail of the stream, so this
            # worker (and the others) go on with the announcements queued behind it.
            await self.store.release(delivery_id)
            await self.store.requeue([(stream, entry_id, delivery_id)])
            return _DONE
        if outcome.state == FINISHED.state:
            return _ack_if(await self._finish(await self.store.get(delivery_id), changed=False))
        # Without a hook to run first, the same Lua call acks the entry.
        ack = None if took.delivery.origin in self.hooks else (stream, entry_id)
        changed, d = await self.store.settle(
            delivery_id,
            outcome.state,
            reason=outcome.reason,
            retryable=outcome.retryable,
            message_ids=outcome.message_ids,
            ack=ack,
        )
        if changed and self.rt.config.redis.replica_acks:
            await self._replicated(delivery_id)
        return _ack_if(await self._finish(d, changed=changed) and ack is None)

    async def _replicated(self, delivery_id: str) -> None:
        """``redis.replica_acks``: the recorded send is on the replicas before we go on.

        The message is out already: if the replicas lag, a failover now could make the
        delivery go out again, so say so, remember it (counted if it is taken again
        unfinished: ``gateway.outbox.unreplicated``) and carry on. It is remembered from
        before the ``WAIT``, so a process stopped during it forgets nothing.
        """
        memory = unreplicated(self.rt.redis)
        memory.add(delivery_id)
        try:
            await wait_replicas(self.rt.redis, self.rt.keys, self.rt.config.redis.replica_acks)
        except StoreUnavailable as exc:
            log.warning(
                "recorded send not on the replicas yet",
                extra={"delivery": delivery_id, "error": exc.message},
            )
            return
        memory.pop(delivery_id)

    async def _owner_stream(self, stream: str, d: Delivery) -> str | None:
        """The owner's stream (same priority) when only the owner may send ``d`` and this
        process is not it; the owner's own workers send it wherever they find it."""
        routed = self.routed
        if routed is None or routed.owns() or not await routed.needs_owner(d.target):
            return None
        return self.owner_streams[self.streams.index(stream)]

    async def _finish(self, d: Delivery | None, *, changed: bool) -> bool:
        """Metrics, logs and the origin's hook; ``True`` when the entry may be acked."""
        if d is None:
            return True
        delivery_id = d.delivery_id
        if changed:
            DELIVERIES.labels(platform=d.platform, result=d.state).inc()
            if d.state == SENT and d.sent_at is not None:
                DELIVERY_SECONDS.labels(platform=d.platform).observe(d.sent_at - d.created_at)
            if d.state == FAILED:
                log.warning(
                    "delivery failed",
                    extra={"delivery": delivery_id, "target": d.target, "reason": d.reason},
                )
        hook = self.hooks.get(d.origin)
        if hook is not None and d.state in (SENT, FAILED, SUPERSEDED):
            try:
                await hook(self.rt, d.result())
            except Exception:
                # Not acked: the entry is taken over later and the hook runs again.
                log.exception("delivery hook failed", extra={"delivery": delivery_id})
                return False
        return True


_ACK, _DONE, _DEFERRED = "ack", "done", "deferred"
"""What ``_handle`` does with an entry after ``_deliver``."""


def _ack_if(may_ack: bool) -> str:
    return _ACK if may_ack else _DONE


def _untouched(took: Taken) -> bool:
    """Taken fresh: not final, and not found in flight (that take counted a crash)."""
    return took.state not in FINAL and not took.inflight and took.takes == 1
