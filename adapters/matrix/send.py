"""Sending, editing and redacting, each with a deterministic transaction id.

A retry (after a 429, a network error, or a restart after ``kill -9``) reuses the
same transaction id on the same device, so Synapse answers with the event it already
created instead of posting again. Uploads are not idempotent, but an orphaned upload
is invisible: only the event that points at it is deduplicated, and it is.
"""

from __future__ import annotations

import io
import json
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar

import nio
from nio.crypto.attachments import encrypt_attachment
from redis.asyncio import Redis
from redis.exceptions import RedisError

from adapters.matrix import errors, polls
from adapters.matrix.crypto import Crypto, NotOwner
from adapters.matrix.invites import PendingInvites
from adapters.matrix.render import (
    attachment_content,
    content_digest,
    edit_content,
    text_content,
    txn_id,
)
from gateway.errors import (
    GatewayError,
    NotPossible,
    PermanentError,
    Rejected,
    StoreUnavailable,
    TargetGone,
)
from gateway.keys import Keys
from gateway.models import (
    OutboundAttachment,
    OutboundMessage,
    PlatformMessageId,
    SendReceipt,
    TargetId,
    split_target_id,
)

log = logging.getLogger(__name__)

T = TypeVar("T")


def room_of(target: TargetId) -> str:
    platform, chat = split_target_id(target)
    if platform != "matrix":
        raise Rejected(f"target {target} is not a Matrix room")
    return chat


EDITS_TTL = 180 * 24 * 3600
"""How long the edit events of a message are remembered (so a recall can redact them)."""


class MatrixSender:
    def __init__(
        self,
        client: nio.AsyncClient,
        rate_scope: str,
        redis: Redis,
        keys: Keys,
        *,
        rooms_key: str | None = None,
        e2e: bool = False,
        invites: PendingInvites | None = None,
    ) -> None:
        self._client = client
        self._scope = rate_scope
        """The bot's ``RateRule`` key: Synapse limits per sender, so a 429 pauses the bot."""
        self._redis = redis
        self._keys = keys
        self._rooms_key = rooms_key
        """The sync loop's room facts (``SyncState``): which rooms are encrypted."""
        self._encrypted: set[str] = set()
        """Rooms known to be encrypted (Matrix never turns encryption off again)."""
        self._checked: set[str] = set()
        """Rooms whose state this process read from the server once (not encrypted then;
        a later switch comes through the sync loop's facts)."""
        self._e2e = e2e
        self.crypto: Crypto | None = None
        """Set while this process owns the device; encrypted sends need it."""
        self._invites = invites
        """Joins a room the bot is refused in as "not in room" but has an invite to."""

    async def is_encrypted(self, room: str) -> bool:
        """Whether sends to ``room`` must be encrypted: the sync loop's facts in Redis
        (written by the owner), or what the owner's own nio client saw."""
        if room in self._encrypted:
            return True
        crypto = self.crypto
        if crypto is not None and room in crypto.client.encrypted_rooms:
            self._encrypted.add(room)
            return True
        if self._rooms_key is None:
            return False
        try:
            blob = await self._redis.hget(self._rooms_key, room)
        except (RedisError, OSError) as exc:
            raise StoreUnavailable(f"matrix room facts: {exc}") from exc
        try:
            encrypted = blob is not None and json.loads(blob).get("encrypted") is True
        except (ValueError, AttributeError):
            encrypted = False
        if not encrypted and room not in self._checked:
            # The sync loop's facts may not have this room yet (it was joined a moment
            # ago; the facts are written once the whole batch is done), or may come from
            # an invite's stripped state: ask the server once before the first plain send.
            encrypted = await self._in_room(room, lambda: self._server_says_encrypted(room))
            self._checked.add(room)
        if encrypted:
            self._encrypted.add(room)
        return encrypted

    async def _server_says_encrypted(self, room: str) -> bool:
        try:
            resp = await self._client.room_get_state_event(room, "m.room.encryption")
        except errors.TRANSPORT_ERRORS as exc:
            errors.raise_transport(exc, "read room encryption")
        action = "read room encryption"
        if isinstance(resp, nio.RoomGetStateEventResponse):
            transport = resp.transport_response
            if transport is None or transport.status == 200:
                return True
            # nio 0.26 turns only a 404 into RoomGetStateEventError: any other error
            # (403 "not in room") comes back as a "response" whose content is the
            # error body. Read as success it made every room the bot is not in look
            # encrypted.
            raise errors.from_json(
                transport.status, resp.content, transport.headers, scope=self._scope, action=action
            )
        if resp.status_code == "M_NOT_FOUND":
            return False
        raise errors.from_nio(resp, scope=self._scope, action=action)

    async def _in_room(self, room: str, call: Callable[[], Awaitable[T]]) -> T:
        """``call()``; when the server refuses it because the bot is not in ``room``
        (``TargetGone``) but the bot has a pending invite there, join and call once more.

        Only the two requests that meet a room first are wrapped (the encryption read and
        the send itself), never a call around them, so one refusal asks for the invites
        once. A refusal for another reason (power levels that forbid polls also answer
        M_FORBIDDEN) costs that one question and stays what it was.
        """
        try:
            return await call()
        except TargetGone:
            # Also a room the bot was never invited to, left, or was kicked from: only
            # the server's list of pending invites tells which (``PendingInvites``).
            if self._invites is None or not await self._invites.accept(room):
                raise
        return await call()

    def _edits_key(self, room: str, event_id: str) -> str:
        return self._keys("matrix", "edits", room, event_id)

    async def send(self, msg: OutboundMessage) -> SendReceipt:
        room = room_of(msg.target)
        if msg.poll is not None:
            content = polls.start_content(msg.poll, msg.text)
            txn = txn_id(msg.idempotency_key, "poll")
            try:
                poll_id = await self._room_send(room, content, txn, "send poll", polls.START)
                return SendReceipt(msg.target, (PlatformMessageId(poll_id),), time.time())
            except (Rejected, TargetGone) as err:
                # Power levels may allow messages but not polls (403 M_FORBIDDEN, which
                # alone would read as "bot removed"); if the bot is really gone, the
                # text below fails the same way.
                log.info("matrix: poll refused in %s (%s); numbered text", room, err.message)
        if msg.stop_poll and msg.reply_to is not None:
            content = polls.end_content(msg.reply_to, msg.text)
            txn = txn_id(msg.idempotency_key, "poll end")
            try:
                await self._room_send(room, content, txn, "end poll", polls.END)
            except PermanentError as err:  # the numbered fallback: the result below says so
                log.info("matrix: poll end refused in %s (%s)", room, err.message)
        ids = [
            await self._room_send(
                room, text_content(msg), txn_id(msg.idempotency_key, "text"), "send"
            )
        ]
        relation = text_content(msg).get("m.relates_to")
        encrypted = bool(msg.attachments) and await self.is_encrypted(room)
        for n, att in enumerate(msg.attachments):
            content = await self._attachment(att, encrypted=encrypted)
            if relation:  # in the same thread (or reply) as the text
                content["m.relates_to"] = relation
            ids.append(
                await self._room_send(
                    room,
                    content,
                    txn_id(msg.idempotency_key, "attachment", n),
                    "send attachment",
                )
            )
        return SendReceipt(msg.target, tuple(PlatformMessageId(i) for i in ids), time.time())

    async def edit(
        self, target: TargetId, message_ids: Sequence[PlatformMessageId], msg: OutboundMessage
    ) -> None:
        """Edit the text part (the first event); attachments cannot be edited."""
        if not message_ids:
            raise NotPossible("no message to edit")
        room = room_of(target)
        content = edit_content(message_ids[0], msg)
        # A second, different edit of the same message needs a new txn id; a retry of
        # the same edit must reuse it: key the txn on the content.
        txn = txn_id(msg.idempotency_key, "edit", message_ids[0], content_digest(content))
        edit_id = await self._room_send(room, content, txn, "edit")
        # The m.replace event carries the new text in the clear: a recall must redact
        # it as well, so remember it beside the original.
        key = self._edits_key(room, message_ids[0])
        try:
            async with self._redis.pipeline(transaction=True) as pipe:
                pipe.sadd(key, edit_id)
                pipe.expire(key, EDITS_TTL)
                await pipe.execute()
        except (RedisError, OSError) as exc:
            raise StoreUnavailable(f"cannot record the edit event: {exc}") from exc

    async def recall(self, target: TargetId, message_ids: Sequence[PlatformMessageId]) -> None:
        room = room_of(target)
        refused: list[str] = []
        for event_id in message_ids:
            try:
                edits = await self._redis.smembers(self._edits_key(room, event_id))
            except (RedisError, OSError) as exc:
                raise StoreUnavailable(f"cannot read the edit events: {exc}") from exc
            for gone in (*sorted(str(e) for e in edits), str(event_id)):
                try:
                    await self._redact(room, gone)
                except PermanentError as exc:
                    refused.append(f"{gone}: {exc.message}")
        if refused:
            raise NotPossible("cannot redact " + "; ".join(refused))

    async def leave(self, target: TargetId) -> None:
        """Leave the room; M_FORBIDDEN (not in it any more) comes out as ``TargetGone``."""
        room = room_of(target)
        try:
            resp = await self._client.room_leave(room)
        except errors.TRANSPORT_ERRORS as exc:
            errors.raise_transport(exc, "leave")
        if isinstance(resp, nio.RoomLeaveResponse):
            return
        err: GatewayError = errors.from_nio(resp, scope=self._scope, action="leave")
        raise err

    async def react(
        self, target: TargetId, event_id: PlatformMessageId, key: str, idempotency_key: str
    ) -> None:
        """An ``m.reaction`` annotation on ``event_id``; the txn id makes a retry a no-op."""
        content = {"m.relates_to": {"rel_type": "m.annotation", "event_id": event_id, "key": key}}
        txn = txn_id(idempotency_key, "react", key)
        await self._room_send(room_of(target), content, txn, "react", "m.reaction")

    async def _room_send(
        self, room: str, content: dict[str, Any], txn: str, action: str,
        event_type: str = "m.room.message",
    ) -> str:  # fmt: skip
        return await self.send_event(room, event_type, content, txn, action)

    async def send_event(
        self, room: str, event_type: str, content: dict[str, Any], txn: str, action: str
    ) -> str:
        """Send one room event with transaction id ``txn``; the event id.

        Every event palm posts must come through here: it is encrypted when the room is,
        whatever its type (reactions and poll events too: never in the clear to an
        encrypted room). Refused as "not in room" while the bot has a pending invite,
        it joins and sends once more (``_in_room``), with the same transaction id.
        """
        encrypted = await self.is_encrypted(room)
        return await self._in_room(
            room, lambda: self._put(room, event_type, content, txn, action, encrypted=encrypted)
        )

    async def _put(
        self, room: str, event_type: str, content: dict[str, Any], txn: str, action: str,
        *, encrypted: bool,
    ) -> str:  # fmt: skip
        try:
            if encrypted:
                crypto = self.crypto
                if crypto is None and not self._e2e:
                    raise NotPossible("encrypted room, and end-to-end encryption is off")
                if crypto is None:
                    raise NotOwner()
                resp = await crypto.room_send(room, event_type, content, txn)
            else:
                resp = await self._client.room_send(room, event_type, content, tx_id=txn)
        except errors.TRANSPORT_ERRORS as exc:
            errors.raise_transport(exc, action)
        if isinstance(resp, nio.RoomSendResponse):
            return str(resp.event_id)
        raise errors.from_nio(resp, scope=self._scope, action=action)

    async def _redact(self, room: str, event_id: str) -> None:
        try:
            resp = await self._client.room_redact(
                room, event_id, reason="recalled", tx_id=txn_id("recall", room, event_id)
            )
        except errors.TRANSPORT_ERRORS as exc:
            errors.raise_transport(exc, "redact")
        if isinstance(resp, nio.RoomRedactResponse):
            return
        err: GatewayError = errors.from_nio(resp, scope=self._scope, action="redact")
        raise err

    async def _attachment(self, att: OutboundAttachment, *, encrypted: bool) -> dict[str, Any]:
        """The event content of an uploaded attachment. In an encrypted room the file
        itself is encrypted too (AES-CTR, key in the Megolm-encrypted event): the media
        repository must never hold it in the clear."""
        if not encrypted:
            return attachment_content(att, await self._upload(att.data, att.mime, att.filename))
        data, keys = encrypt_attachment(att.data)
        mxc = await self._upload(data, "application/octet-stream", att.filename)
        content = attachment_content(att, mxc)
        del content["url"]
        content["file"] = {"url": mxc, **keys}
        return content

    async def _upload(self, data: bytes, mime: str, filename: str) -> str:
        try:
            resp, _ = await self._client.upload(
                io.BytesIO(data),
                content_type=mime,
                filename=filename,
                filesize=len(data),
            )
        except errors.TRANSPORT_ERRORS as exc:
            errors.raise_transport(exc, "upload")
        if isinstance(resp, nio.UploadResponse):
            return str(resp.content_uri)
        raise errors.from_nio(resp, scope=self._scope, action="upload")
