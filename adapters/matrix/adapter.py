"""``MatrixAdapter``: the Matrix side of palm, on matrix-nio, against any homeserver.

Life cycle as in ``gateway.adapter``: the constructor does no I/O; ``start`` logs in
(token, stored session, or password) and reads the bot's display name; ``run`` is the
sync loop; ``aclose`` closes the HTTP session and never logs out (the device and its
transaction-id memory must survive restarts).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence

import nio

from adapters.matrix import errors
from adapters.matrix.client import SessionStore, login, make_client, whoami
from adapters.matrix.normalize import Me
from adapters.matrix.send import MatrixSender, room_of
from adapters.matrix.sync import SyncLoop, SyncState
from gateway import metrics
from gateway.adapter import AdapterContext, Route
from gateway.config import GatewayConfig, MatrixConfig
from gateway.errors import GatewayError
from gateway.models import (
    ChatKind,
    OutboundMessage,
    Platform,
    PlatformMessageId,
    Priority,
    RateRule,
    SendReceipt,
    TargetId,
    UserId,
)

log = logging.getLogger(__name__)

READY_TIMEOUT = 5.0
REQUEST_TIMEOUT = 30.0
"""Sends, uploads and joins; the sync call has its own, longer bound."""


UNLIMITED = 1_000_000
"""Sends per second that no homeserver allows: a rule that only carries pauses."""


class MatrixAdapter:
    platform = Platform("matrix")

    def __init__(self, config: MatrixConfig, gw: GatewayConfig | None = None) -> None:
        self._config = config
        self._gw = gw
        self._client: nio.AsyncClient | None = None
        self._sync: SyncLoop | None = None
        self._sender: MatrixSender | None = None

    def __repr__(self) -> str:
        cfg = self._config
        return f"MatrixAdapter(user_id={cfg.user_id!r}, homeserver={cfg.homeserver!r})"

    @property
    def rate_key(self) -> str:
        """The per-bot ``RateRule`` key; a 429 pauses it (Synapse limits per sender)."""
        return f"matrix:{self._config.user_id}:bot"

    @property
    def device_id(self) -> str | None:
        return self._client.device_id if self._client else None

    async def start(self, ctx: AdapterContext) -> None:
        client = make_client(self._config, REQUEST_TIMEOUT)
        self._client = client
        try:
            await login(
                client, self._config, SessionStore(ctx.redis, ctx.keys, self._config.user_id)
            )
        except BaseException:
            await client.close()
            self._client = None
            raise
        metrics.PLATFORM_UP.labels(platform="matrix").set(1)
        me = Me(self._config.user_id, await self._display_name(client))
        self._sender = MatrixSender(client, self.rate_key, ctx.redis, ctx.keys)
        self._sync = SyncLoop(
            client,
            me,
            SyncState(ctx.redis, ctx.keys, self._config.user_id),
            ctx.sink,
            auto_join=self._config.auto_join,
            timeout_ms=self._config.sync_timeout_ms,
        )
        log.info("matrix: logged in as %s (device %s)", me.user_id, client.device_id)

    async def _display_name(self, client: nio.AsyncClient) -> str | None:
        # Used to spot mentions by name; without it, only ids and m.mentions count.
        try:
            async with asyncio.timeout(READY_TIMEOUT):
                resp = await client.get_displayname()
        except (*errors.TRANSPORT_ERRORS,) as exc:
            log.warning("matrix: cannot read the bot's display name: %s", exc)
            return None
        name = getattr(resp, "displayname", None)
        return name if isinstance(name, str) and name else None

    async def run(self) -> None:
        if self._sync is None:
            raise RuntimeError("MatrixAdapter.run() before start()")
        await self._sync.run()

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.close()  # the HTTP session only: never log out
            self._client = None

    async def check_ready(self) -> str | None:
        if self._client is None:
            return "matrix: not started"
        try:
            async with asyncio.timeout(READY_TIMEOUT):
                resp = await whoami(self._client)
        except TimeoutError:
            reason: str | None = f"matrix: no answer within {READY_TIMEOUT:.0f}s"
        except GatewayError as exc:
            reason = exc.message
        else:
            reason = None if isinstance(resp, nio.WhoamiResponse) else errors.from_nio(resp).message
        metrics.PLATFORM_UP.labels(platform="matrix").set(0 if reason else 1)
        return reason

    def routes(self) -> Sequence[Route]:
        return ()

    async def leave(self, target: TargetId) -> None:
        """An admin rejected the room: leave it (see ``gateway.admission.leave``)."""
        await self._need_sender().leave(target)

    def rate_rules(
        self, target: TargetId, kind: ChatKind, priority: Priority = Priority.NORMAL
    ) -> Sequence[RateRule]:
        """The bot's own limit when ``rate.messages_per_second`` is set.

        Synapse's limit is a token bucket (rate r, burst b). A rolling window of ``b``
        sends per ``b / r`` seconds never exceeds that bucket and averages r/s.
        Without a configured rate the rule is effectively unlimited, but it is still
        returned: a 429 pauses this key, and only sends that count against it wait.
        """
        rate = self._config.rate
        if rate.messages_per_second is None:
            return (RateRule(self.rate_key, UNLIMITED, 1.0, bot_wide=True),)
        window = rate.burst / rate.messages_per_second
        return (RateRule(self.rate_key, rate.burst, window, bot_wide=True),)

    async def send(self, msg: OutboundMessage) -> SendReceipt:
        return await self._need_sender().send(msg)

    async def edit(
        self, target: TargetId, message_ids: Sequence[PlatformMessageId], msg: OutboundMessage
    ) -> None:
        await self._need_sender().edit(target, message_ids, msg)

    async def recall(
        self, target: TargetId, message_ids: Sequence[PlatformMessageId], sent_at: float
    ) -> None:
        # Matrix has no age limit on redaction; sent_at matters only to Telegram.
        await self._need_sender().recall(target, message_ids)

    # --- staff rooms (gateway.staffroom.acting.StaffRoomSupport) ----------------

    async def is_member(self, target: TargetId, user: UserId) -> bool:
        """Whether ``user`` is among the room's joined members now."""
        if self._client is None:
            raise RuntimeError("MatrixAdapter used before start()")
        room = room_of(target)
        try:
            resp = await self._client.joined_members(room)
        except errors.TRANSPORT_ERRORS as exc:
            errors.raise_transport(exc, "joined members")
        if isinstance(resp, nio.JoinedMembersResponse):
            return any(m.user_id == user for m in resp.members)
        raise errors.from_nio(resp, action="joined members")

    async def answer_button(self, query_id: str, text: str) -> None:
        """Matrix has no buttons: nothing to answer."""

    async def fetch_attachment(self, ref: str) -> bytes:
        """The bytes behind an ``mxc://`` URI (to forward a resident's photo)."""
        if self._client is None:
            raise RuntimeError("MatrixAdapter used before start()")
        try:
            resp = await self._client.download(mxc=ref)
        except errors.TRANSPORT_ERRORS as exc:
            errors.raise_transport(exc, "download")
        if isinstance(resp, nio.MemoryDownloadResponse):
            return bytes(resp.body)
        raise errors.from_nio(resp, action="download")

    def _need_sender(self) -> MatrixSender:
        if self._sender is None:
            raise RuntimeError("MatrixAdapter used before start()")
        return self._sender
