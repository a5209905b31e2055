"""End-to-end encryption for palm's Matrix device, on matrix-nio's Olm machine (vodozemac).

Only the process that holds the device lease (``owner.py``) opens this: nio's crypto
store is one SQLite file per device under ``store_dir`` and two processes sharing one
Olm account would corrupt each other's ratchets.

palm keeps its own raw-JSON ``/sync`` (see ``client.py``); every sync body is also
parsed by nio (``absorb``) so the Olm machine sees to-device messages (room keys,
key requests), device-list changes, one-time-key counts and room membership. Events
are decrypted one by one afterwards (``decrypt``), so an event nio cannot parse never
fails the whole batch.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import nio

from adapters.matrix import errors
from gateway.errors import NotPossible, RetryableError

log = logging.getLogger(__name__)

ENCRYPTED_TYPE = "m.room.encrypted"


class NotOwner(RetryableError):
    """An encrypted send on a process that does not own the device: route it to the owner."""

    def __init__(self, message: str = "matrix: this process does not own the device") -> None:
        super().__init__(message, retry_after=1.0)


def store_file(store_dir: Path, user_id: str, device_id: str) -> Path:
    """nio's DefaultStore file name for a device."""
    return store_dir / f"{user_id}_{device_id}.db"


def make_crypto_client(
    homeserver: str, user_id: str, store_dir: Path, request_timeout: float
) -> nio.AsyncClient:
    # 0700: the store holds the device's private keys.
    store_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    os.chmod(store_dir, 0o700)
    cfg = nio.AsyncClientConfig(
        max_limit_exceeded=0,
        max_timeouts=0,
        store_sync_tokens=False,
        encryption_enabled=True,
        request_timeout=request_timeout,
    )
    return nio.AsyncClient(homeserver.rstrip("/"), user_id, store_path=str(store_dir), config=cfg)


class Crypto:
    """The owner's Olm machine: keys, decryption, encrypted sends."""

    def __init__(self, client: nio.AsyncClient, *, trust: str) -> None:
        self.client = client
        self._ignore_unverified = trust == "tofu"
        self._prepare = asyncio.Lock()
        """Key queries and claims are not safe to run concurrently in nio."""
        self._requested: set[str] = set()
        self._members: set[str] = set()
        self._key_counts: Any = None
        """The one-time-key counts of the last sync nio saw (a change: upload more)."""
        """Rooms whose full member list was read since this store was opened."""

    @property
    def device_id(self) -> str:
        return str(self.client.device_id)

    async def start(self) -> None:
        """Upload the device keys (first start) and fresh one-time keys."""
        await self.maintain()

    async def aclose(self) -> None:
        await self.client.close()

    async def maintain(self) -> None:
        """What nio's ``sync_forever`` does between syncs: keys up, queries, claims,
        and the to-device messages the Olm machine queued (key shares, answers)."""
        async with self._prepare:
            await self._call(self.client.keys_upload, self.client.should_upload_keys)
            await self._call(self.client.keys_query, self.client.should_query_keys)
            if self.client.should_claim_keys:
                users = self.client.get_users_for_key_claiming()
                await self._call(lambda: self.client.keys_claim(users), True)
        try:
            await self.client.send_to_device_messages()
        except errors.TRANSPORT_ERRORS as exc:
            log.warning("matrix e2e: to-device messages not sent yet: %s", exc)

    async def _call(self, fn: Any, needed: bool) -> None:
        if not needed:
            return
        try:
            resp = await fn()
        except errors.TRANSPORT_ERRORS as exc:
            errors.raise_transport(exc, "e2e keys")
        except nio.LocalProtocolError as exc:
            log.debug("matrix e2e: %s", exc)
            return
        if isinstance(resp, nio.ErrorResponse):
            raise errors.from_nio(resp, action="e2e keys")

    async def absorb(self, body: Mapping[str, Any]) -> None:
        """Feed one raw ``/sync`` body to nio's Olm machine and room state."""
        counts = body.get("device_one_time_keys_count")
        if not _crypto_news(body) and counts == self._key_counts:
            # Most syncs of a busy bot carry only its own sends coming back: nothing
            # for nio to learn (parsing them costs as much CPU as sending).
            return
        self._key_counts = counts
        resp = nio.SyncResponse.from_dict(_state_only(body))
        if not isinstance(resp, nio.SyncResponse):
            # One event nio cannot validate: still take the crypto parts, which matter
            # for decrypting (room keys) and for sending (device lists).
            log.warning("matrix e2e: nio rejected a sync body (%s); crypto parts only", resp)
            slim = {
                k: body[k]
                for k in ("next_batch", "to_device", "device_lists", "device_one_time_keys_count")
                if k in body
            }
            resp = nio.SyncResponse.from_dict(slim)
            if not isinstance(resp, nio.SyncResponse):
                log.error("matrix e2e: nio rejected the crypto parts of a sync: %s", resp)
                return
        await self.client.receive_response(resp)
        await self.maintain()

    def decrypt(self, room_id: str, raw: Mapping[str, Any]) -> dict[str, Any] | None:
        """The cleartext event (same id, sender and time), or ``None`` without its key."""
        ev = nio.Event.parse_encrypted_event(dict(raw))
        if not isinstance(ev, nio.MegolmEvent):
            return None
        ev.room_id = room_id
        try:
            clear = self.client.decrypt_event(ev)
        except (nio.EncryptionError, nio.LocalProtocolError) as exc:
            log.debug("matrix e2e: cannot decrypt %s yet: %s", raw.get("event_id"), exc)
            return None
        if not isinstance(clear, nio.Event) or isinstance(clear, nio.MegolmEvent):
            return None
        source = dict(clear.source)
        source.setdefault("room_id", room_id)
        return source

    async def request_key(self, room_id: str, raw: Mapping[str, Any]) -> None:
        """Ask the sender's (and our own) devices for a missing room key, once per session."""
        ev = nio.Event.parse_encrypted_event(dict(raw))
        if not isinstance(ev, nio.MegolmEvent) or ev.session_id in self._requested:
            return
        ev.room_id = room_id
        try:
            resp = await self.client.request_room_key(ev)
        except nio.LocalProtocolError:
            self._requested.add(ev.session_id)  # nio already asked for it
            return
        except errors.TRANSPORT_ERRORS as exc:
            log.warning("matrix e2e: room-key request failed: %s", exc)
            return
        if isinstance(resp, nio.RoomKeyRequestResponse):
            self._requested.add(ev.session_id)
            log.info("matrix e2e: requested the room key of %s", raw.get("event_id"))

    async def room_send(
        self, room_id: str, event_type: str, content: dict[str, Any], txn: str
    ) -> nio.RoomSendResponse | nio.ErrorResponse:
        """Encrypt and send; the Megolm session is shared with the room's devices first."""
        client = self.client
        room = client.rooms.get(room_id)
        if room is None or not room.encrypted:
            # After a restart nio's room state is empty (palm resumes from its own
            # token); the members are read afresh below.
            room = nio.MatrixRoom(room_id, client.user_id, encrypted=True)
            client.rooms[room_id] = room
            self._members.discard(room_id)
        async with self._prepare:
            if room_id not in self._members or not room.members_synced:
                # palm's sync lazy-loads members: nio's member list of a room may hold
                # only those who spoke. Read them all once; the sync's member events
                # keep the list current afterwards.
                await self._call(lambda: client.joined_members(room_id), True)
                self._members.add(room_id)
            await self._call(client.keys_query, client.should_query_keys)
            if client.olm is not None and client.olm.should_share_group_session(room_id):
                await self._share(room_id)
        try:
            # Encrypted here rather than by ``client.room_send``, which sends
            # ``m.reaction`` in the clear: a confirmation's ✅ is an event like any other
            # and must never leave in the clear (its ``m.relates_to`` is copied to the
            # outer content by ``encrypt``, so the server can still aggregate it).
            kind, sealed = client.encrypt(room_id, event_type, content)
        except nio.OlmUnverifiedDeviceError as exc:
            raise NotPossible(f"unverified device in the room (trust: verified): {exc}") from exc
        except (nio.LocalProtocolError, nio.EncryptionError, nio.GroupEncryptionError) as exc:
            raise RetryableError(f"matrix e2e: cannot encrypt yet: {exc}", retry_after=2.0) from exc
        method, path, data = nio.Api.room_send(client.access_token, room_id, kind, sealed, txn)
        resp = await client._send(nio.RoomSendResponse, method, path, data, (room_id,))
        assert isinstance(resp, nio.RoomSendResponse | nio.ErrorResponse)  # nio's _send
        return resp

    async def _share(self, room_id: str) -> None:
        try:
            resp = await self.client.share_group_session(
                room_id, ignore_unverified_devices=self._ignore_unverified
            )
        except nio.OlmUnverifiedDeviceError as exc:
            raise NotPossible(f"unverified device in the room (trust: verified): {exc}") from exc
        except nio.LocalProtocolError as exc:
            log.debug("matrix e2e: %s", exc)
            return
        except errors.TRANSPORT_ERRORS as exc:
            errors.raise_transport(exc, "share room key")
        if isinstance(resp, nio.ErrorResponse):
            raise errors.from_nio(resp, action="share room key")


def _state_only(body: Mapping[str, Any]) -> dict[str, Any]:
    """``body`` with only the state events of the joined rooms' timelines: all nio needs
    (members, encryption); palm decrypts the messages itself, so nio neither validates
    nor decrypts every message a second time."""
    out = dict(body)
    rooms = body.get("rooms")
    joined = rooms.get("join") if isinstance(rooms, Mapping) else None
    if not isinstance(joined, Mapping):
        return out
    slim: dict[str, Any] = {}
    for room_id, room in joined.items():
        timeline = room.get("timeline") if isinstance(room, Mapping) else None
        events = timeline.get("events") if isinstance(timeline, Mapping) else None
        if not isinstance(room, Mapping) or not isinstance(timeline, Mapping):
            slim[room_id] = room
            continue
        kept = [e for e in events or () if isinstance(e, Mapping) and "state_key" in e]
        slim[room_id] = {**room, "timeline": {**timeline, "events": kept}}
    assert isinstance(rooms, Mapping)  # joined came from it
    out["rooms"] = {**rooms, "join": slim}
    return out


def _crypto_news(body: Mapping[str, Any]) -> bool:
    """Whether a sync body holds anything nio's crypto or room state needs: to-device
    messages, device-list changes, room state (members, encryption), invites, leaves."""
    if _dig(body, "to_device", "events"):
        return True
    lists = body.get("device_lists")
    if isinstance(lists, Mapping) and (lists.get("changed") or lists.get("left")):
        return True
    rooms = body.get("rooms")
    if not isinstance(rooms, Mapping):
        return False
    if rooms.get("invite") or rooms.get("leave"):
        return True
    joined = rooms.get("join")
    for room in joined.values() if isinstance(joined, Mapping) else ():
        if not isinstance(room, Mapping):
            continue
        if _dig(room, "state", "events"):
            return True
        events = _dig(room, "timeline", "events")
        if any(isinstance(e, Mapping) and "state_key" in e for e in events):
            return True
    return False


def _dig(value: Any, *path: str) -> list[Any]:
    for key in path:
        value = value.get(key) if isinstance(value, Mapping) else None
    return value if isinstance(value, list) else []
