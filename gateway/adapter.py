"""The adapter protocol: what a platform package implements, and what the core hands it.

Life cycle, driven by the core (``gateway.app``)::

    adapter = factory(config_section)        # no I/O in the constructor
    await adapter.start(ctx)                  # log in, check the token, restore state
    tg.create_task(adapter.run())             # receive loop, until cancelled
    ... send / edit / recall from delivery workers ...
    await adapter.aclose()                    # release connections; never log out

Receiving: the adapter turns platform payloads into ``InboundEvent`` values and calls
``ctx.sink.accept(events)``. That call returns only once the events are durably in
Redis (duplicates are dropped by ``dedupe_key``); only then may the adapter confirm
them to the platform (move the Telegram offset, save the Matrix ``since`` token).

Sending: the core's delivery workers call ``send``/``edit``/``recall`` after taking a
permit for every ``RateRule`` that ``rate_rules`` returns. Errors come out as the
``gateway.errors`` tree, translated once inside the adapter.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from gateway.models import (
    ChatKind,
    InboundEvent,
    OutboundMessage,
    Platform,
    PlatformMessageId,
    Priority,
    RateRule,
    SendReceipt,
    TargetId,
)

if TYPE_CHECKING:
    from aiohttp import web
    from redis.asyncio import Redis

    from gateway.keys import Keys


class InboundSink(Protocol):
    """Where adapters put what they receive. Implemented by the core."""

    async def accept(self, events: Sequence[InboundEvent]) -> int:
        """Store ``events`` durably; return how many were new (not duplicates).

        Raises ``StoreUnavailable`` when Redis does not answer: the adapter must then
        keep the events unconfirmed and try again later.
        """
        ...


@dataclass(frozen=True, slots=True)
class AdapterContext:
    """Everything the core lends an adapter at ``start``."""

    redis: Redis
    keys: Keys
    sink: InboundSink
    instance: str
    """This palm process's name (host:pid:random), for leases and logs."""


@dataclass(frozen=True, slots=True)
class Route:
    """An HTTP route an adapter serves on palm's own server (e.g. a webhook)."""

    method: str
    path: str
    handler: Callable[[web.Request], Awaitable[web.StreamResponse]]


@runtime_checkable
class Adapter(Protocol):
    platform: Platform

    async def start(self, ctx: AdapterContext) -> None:
        """Connect and authenticate. Raise ``ConfigError`` for a bad token."""
        ...

    async def run(self) -> None:
        """Receive until cancelled. Must not return early unless receiving is off."""
        ...

    async def aclose(self) -> None: ...

    async def check_ready(self) -> str | None:
        """``None`` when the platform answers; else a one-line reason."""
        ...

    def routes(self) -> Sequence[Route]:
        """Extra HTTP routes to mount on palm's server (webhooks); usually empty."""
        ...

    def rate_rules(
        self, target: TargetId, kind: ChatKind, priority: Priority = Priority.NORMAL
    ) -> Sequence[RateRule]:
        """The platform limits one send into ``target`` counts against (an urgent send
        may count against others: Telegram's paid broadcast)."""
        ...

    async def send(self, msg: OutboundMessage) -> SendReceipt: ...

    async def edit(
        self, target: TargetId, message_ids: Sequence[PlatformMessageId], msg: OutboundMessage
    ) -> None:
        """Replace the content of a message sent earlier (all its parts)."""
        ...

    async def recall(
        self, target: TargetId, message_ids: Sequence[PlatformMessageId], sent_at: float
    ) -> None:
        """Delete or redact. Raise ``NotPossible`` with the reason when it cannot."""
        ...

    async def leave(self, target: TargetId) -> None:
        """Make the bot leave the chat (an admin rejected it). ``TargetGone`` when the
        bot is not in it (any more); other errors as for a send."""
        ...


@runtime_checkable
class OwnerRouted(Protocol):
    """An adapter some of whose sends only one process at a time can make (the owner of
    a Matrix device and its crypto store). The outbox forwards those deliveries to a
    stream of their own that only the owner's workers read."""

    def owns(self) -> bool:
        """Whether this process is the owner now."""
        ...

    async def needs_owner(self, target: TargetId) -> bool:
        """Whether a send to ``target`` must be made by the owner."""
        ...


AdapterFactory = Callable[..., Adapter]
