"""The send attempts of one taken delivery: rate permit, owner check, send, retries.

``Attempts._attempts`` runs from the moment a worker (``gateway.outbox.worker``) holds a
delivery it may send until an ``Outcome``: sent, failed, superseded (an edit overtaken by
a newer one), or given up to another worker (our lease lost, someone else finished it,
an automatic answer over its share). Each
try takes a rate permit, checks in the same round trip that the delivery is still ours
and queued (``begin_send``), stamps the permit and calls the adapter; what a failed
send means (wait and retry, mark the chat gone, follow a migration, fail) is decided
here. A wait longer than ``HAND_BACK_AFTER`` first hands the rest of the batch back.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import secrets
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace

from gateway.admission.share import auto_reply_rules, is_auto_reply
from gateway.errors import (
    AmbiguousSend,
    ChatMigrated,
    PermanentError,
    RateLimited,
    RetryableError,
    StoreUnavailable,
    TargetGone,
)
from gateway.metrics import RATE_LIMITED, TELEGRAM_AMBIGUOUS
from gateway.models import ChatKind, PlatformMessageId, RateRule, SendReceipt, TargetId
from gateway.outbox.anchored import send_anchored
from gateway.outbox.model import FAILED, SENT, SUPERSEDED, Delivery, TargetStatus
from gateway.outbox.reader import StreamReader

log = logging.getLogger("palm.outbox")

HAND_BACK_AFTER = 0.25
"""A retry wait longer than this (seconds) hands the rest of the batch back."""
AUTO_REPLY_WAIT = 0.25
"""How long a worker waits for an automatic answer's permit (its share may be used
up) before it requeues it and takes the next delivery: so workers never all sit on
acknowledgements while announcements wait behind them."""
STAMP_STALE = 0.02
"""A stamp whose answer took longer than this (seconds) is made again before the send:
the platform counts the send when it arrives, and the margins of the Telegram rules
(``adapters.telegram.limits``) absorb some tens of ms between the two, not more."""
BACKOFF_CAP = 60.0


@dataclass(frozen=True, slots=True)
class Outcome:
    state: str  # sent | failed | lost | finished
    message_ids: tuple[PlatformMessageId, ...] = ()
    reason: str | None = None
    retryable: bool = False


LOST = Outcome("lost")
"""Our lease was taken over (we stalled): leave the entry to its new owner."""
FINISHED = Outcome("finished")
"""Another worker already brought it to a final state."""
YIELD = Outcome("yield")
"""An automatic answer found no permit within its share: requeue it behind the rest."""
OVERTAKEN = Outcome(SUPERSEDED, reason="superseded by a later edit")
"""An edit not made: a newer edit of the same message was queued (``send_anchored``)."""


class Attempts(StreamReader):
    """The sending half of a worker (``_Worker`` in ``gateway.outbox.worker``)."""

    async def _count_duplicate_risk(
        self, delivery_id: str, *, at_crash: bool = True, why: str = "it was in flight at a crash"
    ) -> None:
        await self.store.mark_possible_duplicate(delivery_id, self.platform)
        if not at_crash:
            return  # an AmbiguousSend: the adapter counted it when it translated the error
        if self.platform == "telegram":
            TELEGRAM_AMBIGUOUS.inc()
        log.warning(
            "resending a send that may have reached the chat: %s",
            why,
            extra={"delivery": delivery_id},
        )

    async def _attempts(self, d: Delivery, owner: str, known: TargetStatus | None) -> Outcome:
        target = d.target
        if known is not None and not known.active:
            return Outcome(FAILED, reason=f"target inactive: {known.reason}")
        kind = known.kind if known is not None else ChatKind.GROUP
        msg = await self.store.message(d)
        anchor = await self.store.anchor(d)
        migrated = False
        failures = 0
        started = time.time()
        auto = is_auto_reply(d.origin, d.delivery_id)
        while True:
            rules = self.adapter.rate_rules(target, kind, msg.priority)
            if auto:
                rules = (*rules, *auto_reply_rules(rules))
            permit = secrets.token_hex(8)
            if not auto:
                await self.limiter.acquire(rules, member=permit)
            elif not await self.limiter.acquire(rules, max_wait=AUTO_REPLY_WAIT, member=permit):
                return YIELD  # acks and help texts: at most half of the bot's rate
            # The owner check and the stamp (the grant was ahead of this moment: count the
            # send from now, ratelimit.py) go in one round trip, the check first. A stamp
            # that must wait leaves the delivery in flight meanwhile: a crash then counts
            # a duplicate risk that did not happen (never one that did).
            # Counted as in flight until its answer (ratelimit.py), except the paced
            # paid sends: at 1,000/s the second script per send is CPU the broadcast
            # does not have, and their margin absorbs the arrival jitter.
            until_sent = not any(r.pace for r in rules)
            asked = time.monotonic()
            began, wait = await asyncio.gather(
                self.store.begin_send(d.delivery_id, owner),
                self.limiter.try_stamp(rules, permit, until_sent=until_sent),
            )
            if began != "ok":
                # "final": someone else finished it; "lost": our lease was taken over.
                return LOST if began == "lost" else FINISHED
            if wait > 0 or time.monotonic() - asked > STAMP_STALE:
                # Waiting, or the answer came late (a stalled event loop, a collector
                # pause): the stamp may be well before the request leaves, so again.
                await self.limiter.stamp(rules, permit, until_sent=until_sent)
            receipt: SendReceipt | None
            this = replace(msg, target=target, permit=permit if until_sent else None)
            try:
                try:
                    if anchor is None:
                        receipt = await self.adapter.send(this)
                    else:
                        receipt = await send_anchored(self.store, self.adapter, anchor, this)
                finally:
                    if until_sent:
                        await self._sent(rules, permit)
            except RateLimited as exc:
                RATE_LIMITED.labels(platform=self.platform).inc()
                if exc.scope:
                    await self.limiter.pause(exc.scope, exc.retry_after or 1.0)
                wait, reason = exc.retry_after or 1.0, f"rate limited: {exc.message}"
            except AmbiguousSend as exc:
                if self._ambiguous_policy() == "fail":
                    return Outcome(FAILED, reason=f"ambiguous send: {exc.message}", retryable=True)
                await self._count_duplicate_risk(d.delivery_id, at_crash=False)
                wait, reason = exc.retry_after or _backoff(failures), f"ambiguous: {exc.message}"
            except RetryableError as exc:
                wait, reason = exc.retry_after or _backoff(failures), exc.message
            except TargetGone as exc:
                await self.targets.mark_inactive(target, exc.reason)
                return Outcome(FAILED, reason=exc.reason)
            except ChatMigrated as exc:
                if migrated:
                    return Outcome(FAILED, reason=f"chat migrated twice: {exc.message}")
                new = TargetId(exc.new_target)
                await self.targets.migrate(target, new)
                await self.store.retarget(d.delivery_id, new)
                await self.store.end_attempt(d.delivery_id, f"migrated to {new}")
                target, migrated = new, True
                continue
            except PermanentError as exc:
                return Outcome(FAILED, reason=exc.message or exc.code)
            except Exception as exc:
                # An adapter bug must not lose the delivery nor kill the worker.
                log.exception("adapter send crashed", extra={"delivery": d.delivery_id})
                return Outcome(FAILED, reason=f"internal error: {type(exc).__name__}: {exc}")
            else:
                if receipt is None:
                    return OVERTAKEN
                return Outcome(SENT, message_ids=receipt.message_ids)
            failures += 1
            await self.store.end_attempt(d.delivery_id, reason)
            first = await self._first_attempt(d.delivery_id, started)
            if time.time() + wait > first + self.cfg.retry_deadline_seconds:
                return Outcome(
                    FAILED, reason=f"gave up after {failures} tries: {reason}", retryable=True
                )
            if wait > HAND_BACK_AFTER:
                await self._hand_back()
            await asyncio.sleep(wait)

    async def _sent(self, rules: Sequence[RateRule], permit: str) -> None:
        # Without Redis the send stays counted as in flight for IN_FLIGHT_HOLD: slower,
        # never over a limit. The delivery's own outcome must not wait for that.
        with contextlib.suppress(StoreUnavailable):
            await self.limiter.sent(rules, permit)

    async def _first_attempt(self, delivery_id: str, default: float) -> float:
        raw = await self.rt.redis.hget(self.store.delivery_key(delivery_id), "first_attempt_at")
        return float(str(raw)) if raw else default

    def _ambiguous_policy(self) -> str:
        section = getattr(self.rt.config.platforms, self.platform, None)
        return str(getattr(section, "ambiguous_policy", "resend"))


def _backoff(failures: int) -> float:
    base: float = min(BACKOFF_CAP, 0.5 * 2.0**failures)
    return base * random.uniform(0.8, 1.2)
