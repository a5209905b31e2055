"""``MatrixAdapter``: the Matrix side of palm, on matrix-nio, against any homeserver.

Life cycle as in ``gateway.adapter``: the constructor does no I/O; ``start`` logs in
(token, stored session, or password) and reads the bot's display name; ``run`` is the
sync loop; ``aclose`` closes the HTTP session and never logs out (the device and its
transaction-id memory must survive restarts).

With end-to-end encryption on (``platforms.matrix.e2e``), ``run`` first waits for the
device lease (``owner.py``): only the owner syncs (to-device messages carry the room
keys), decrypts, and sends to encrypted rooms; every process sends to the others.
The outbox routes encrypted-room deliveries to the owner (``owns``/``needs_owner``).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from pathlib import Path

import nio

from adapters.matrix import errors
from adapters.matrix.client import SessionStore, login, make_client, whoami
from adapters.matrix.decrypt import Decryptor
from adapters.matrix.device import open_crypto
from adapters.matrix.invites import PendingInvites
from adapters.matrix.media import open_file, sniff_image, split_ref
from adapters.matrix.messages import PLATFORM
from adapters.matrix.owner import DeviceLease, Ownership
from adapters.matrix.pending import PendingStore
from adapters.matrix.relay import OwnerRelay
from adapters.matrix.rooms import ENCRYPTED_REASON, Me
from adapters.matrix.send import MatrixSender, room_of
from adapters.matrix.sync import Backoff, SyncLoop, SyncState
from gateway import metrics
from gateway.adapter import AdapterContext, Route
from gateway.aio import TaskGroup
from gateway.config import GatewayConfig, MatrixConfig
from gateway.errors import GatewayError, NotPossible, RetryableError
from gateway.models import (
    ChatKind,
    OutboundMessage,
    Platform,
    PlatformMessageId,
    Priority,
    RateRule,
    SendReceipt,
    TargetId,
    TargetSeen,
    UserId,
)
from gateway.targets import TargetDirectory

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
        self._ctx: AdapterContext | None = None
        self._me: Me | None = None
        self._ownership: Ownership | None = None
        self._relay: OwnerRelay | None = None
        self._store_dir = self._crypto_dir()

    def _crypto_dir(self) -> Path | None:
        """Where nio's crypto store lives; ``None``: end-to-end encryption is off."""
        e2e = self._config.e2e
        if not e2e.enabled:
            return None
        base = self._gw.data_dir if self._gw is not None else None
        if e2e.store_dir is not None:
            return e2e.store_dir if base is None else base / e2e.store_dir
        return base / "matrix-crypto" if base is not None else None

    def __repr__(self) -> str:
        cfg = self._config
        return f"MatrixAdapter(user_id={cfg.user_id!r}, homeserver={cfg.homeserver!r})"

    @property
    def rate_key(self) -> str:
        """The per-bot ``RateRule`` key; a 429 pauses it (Synapse limits per sender)."""
        return f"matrix:{self._config.user_id}:bot"

    @property
    def device_id(self) -> str | None:
        """The device that holds the keys while this process owns it, else the login's."""
        crypto = self._sender.crypto if self._sender is not None else None
        if crypto is not None:
            return crypto.device_id
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
        e2e = self._store_dir is not None
        me = Me(self._config.user_id, await self._display_name(client), e2e=e2e)
        self._ctx, self._me = ctx, me
        state = SyncState(ctx.redis, ctx.keys, self._config.user_id)
        self._sender = MatrixSender(
            client,
            self.rate_key,
            ctx.redis,
            ctx.keys,
            rooms_key=state.rooms_key,
            e2e=e2e,
            invites=PendingInvites(client, me, self._config.auto_join),
        )
        self._sync = self._sync_loop(client, None)
        if e2e:
            lease = DeviceLease(
                ctx.redis,
                ctx.keys("matrix", self._config.user_id, "device-lease"),
                ctx.instance,
                self._config.e2e.owner_lease_seconds,
            )
            self._ownership = Ownership(lease)
            self._relay = OwnerRelay(ctx.redis, ctx.keys, self._config.user_id)
            await self._reactivate_encrypted(ctx)
        log.info("matrix: logged in as %s (device %s)", me.user_id, client.device_id)

    def _sync_loop(self, client: nio.AsyncClient, decryptor: Decryptor | None) -> SyncLoop:
        assert self._ctx is not None
        assert self._me is not None
        ctx = self._ctx
        return SyncLoop(
            client,
            self._me,
            SyncState(ctx.redis, ctx.keys, self._config.user_id),
            ctx.sink,
            auto_join=self._config.auto_join,
            timeout_ms=self._config.sync_timeout_ms,
            decryptor=decryptor,
        )

    async def _reactivate_encrypted(self, ctx: AdapterContext) -> None:
        """Rooms an earlier palm marked "encrypted: not supported yet" are served now."""
        back = [
            TargetSeen(t.id, t.kind, t.title, None)
            for t in await TargetDirectory(ctx.redis, ctx.keys).list()
            if t.platform == PLATFORM and t.reason == ENCRYPTED_REASON
        ]
        if back:
            await ctx.sink.accept(back)
            log.info("matrix e2e: %d encrypted room(s) are active targets again", len(back))

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
        if self._ownership is None:
            await self._sync.run()
        else:
            await self._ownership.run(self._own)

    async def _own(self) -> None:
        """While this process owns the device: the crypto store open, sync decrypting."""
        assert self._client is not None
        assert self._ctx is not None
        assert self._store_dir is not None
        sender = self._need_sender()
        ctx = self._ctx
        sessions = SessionStore(ctx.redis, ctx.keys, self._config.user_id)
        backoff = Backoff()
        while True:
            try:
                crypto = await open_crypto(
                    self._client, self._config, sessions, self._store_dir, REQUEST_TIMEOUT
                )
                break
            except RetryableError as exc:
                # The homeserver or Redis is away for a moment: not a reason to stop palm.
                delay = max(exc.retry_after or 0.0, backoff.next())
                log.warning("matrix e2e: cannot open the device yet: %s", exc.message)
                await asyncio.sleep(delay)
        pending = PendingStore(ctx.redis, ctx.keys, self._config.user_id)
        sender.crypto = crypto
        sync = self._sync_loop(crypto.client, Decryptor(crypto, pending, self._config.user_id))
        try:
            async with TaskGroup() as tg:
                if self._relay is not None:
                    tg.create_task(self._relay.serve(sender.edit))
                await sync.run()
        finally:
            sender.crypto = None
            await crypto.aclose()

    def owns(self) -> bool:
        """Whether this process may send to encrypted rooms now (without e2e: any may):
        it holds the lease and its crypto store is open (a few seconds after the lease)."""
        if self._ownership is None:
            return True
        return self._ownership.owned() and self._need_sender().crypto is not None

    async def needs_owner(self, target: TargetId) -> bool:
        """Whether a send to ``target`` must go through the device's owner."""
        if self._ownership is None:
            return False
        return await self._need_sender().is_encrypted(room_of(target))

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
        if self._relay is not None and not self.owns() and await self.needs_owner(target):
            # Encrypting needs the device's keys: the owner process makes the edit.
            await self._relay.ask_edit(target, message_ids, msg)
            return
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

    # --- confirmations (gateway.confirm.support) --------------------------------

    async def react(
        self, target: TargetId, message_id: PlatformMessageId, key: str, idempotency_key: str
    ) -> None:
        await self._need_sender().react(target, message_id, key, idempotency_key)

    async def chat_members(self, target: TargetId) -> list[tuple[str, str]]:
        """The room's joined members, the bot excluded: ``(user id, display name)``."""
        if self._client is None:
            raise RuntimeError("MatrixAdapter used before start()")
        try:
            resp = await self._client.joined_members(room_of(target))
        except errors.TRANSPORT_ERRORS as exc:
            errors.raise_transport(exc, "joined members")
        if not isinstance(resp, nio.JoinedMembersResponse):
            raise errors.from_nio(resp, action="joined members")
        me = self._config.user_id
        return [(m.user_id, m.display_name or m.user_id) for m in resp.members if m.user_id != me]

    async def fetch_attachment(self, ref: str) -> bytes:
        """The bytes of a resident's file (to forward it to a staff room), decrypted
        when it came from an encrypted room (``media``)."""
        return (await self._download(ref))[0]

    async def fetch_file(self, ref: str, max_bytes: int) -> tuple[bytes, str]:
        """A resident's file and its MIME type, for the console's ticket page."""
        data, mime = await self._download(ref)
        if len(data) > max_bytes:
            raise NotPossible(f"the file is larger than {max_bytes} bytes")
        return data, mime

    async def _download(self, ref: str) -> tuple[bytes, str]:
        if self._client is None:
            raise RuntimeError("MatrixAdapter used before start()")
        url, key = split_ref(ref)
        if not url.startswith("mxc://"):
            raise NotPossible("not a Matrix media reference")
        try:
            resp = await self._client.download(mxc=url)
        except errors.TRANSPORT_ERRORS as exc:
            errors.raise_transport(exc, "download")
        if not isinstance(resp, nio.MemoryDownloadResponse):
            raise errors.from_nio(resp, action="download")
        data = open_file(bytes(resp.body), key)
        mime = str(resp.content_type or "application/octet-stream")
        if key is not None:  # the server only ever saw ciphertext
            mime = sniff_image(data) or "application/octet-stream"
        return data, mime

    def _need_sender(self) -> MatrixSender:
        if self._sender is None:
            raise RuntimeError("MatrixAdapter used before start()")
        return self._sender
