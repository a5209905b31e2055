"""A resident's own Matrix client with end-to-end encryption (matrix-nio[e2e]).

It logs in on the test Synapse as a fresh device, keeps a crypto store in a temp
directory, syncs in the background (``sync_forever`` uploads, queries and claims keys
and sends the to-device messages) and records every room event it sees, decrypted
when it can be. ``withhold_keys`` holds the room-key to-device messages back, so a
test can make palm see a message before its key.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import time
import uuid
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import nio
from nio.crypto.attachments import encrypt_attachment

from tests.fakes.synapse import User

ENCRYPTION = {
    "type": "m.room.encryption",
    "state_key": "",
    "content": {"algorithm": "m.megolm.v1.aes-sha2"},
}


class Resident:
    def __init__(self, client: nio.AsyncClient) -> None:
        self.client = client
        self.events: dict[str, nio.Event] = {}
        """Every room event seen, by id; decrypted ones replace their Megolm form."""
        self.withhold_keys = False
        self._held: list[Any] = []
        client.add_event_callback(self._on_event, nio.Event)

    async def _on_event(self, room: nio.MatrixRoom, event: nio.Event) -> None:
        self.events[event.event_id] = event

    async def create_room(
        self, invite: list[str], *, name: str | None, encrypted: bool = True
    ) -> str:
        resp = await self.client.room_create(
            name=name, invite=invite, initial_state=[ENCRYPTION] if encrypted else []
        )
        assert isinstance(resp, nio.RoomCreateResponse), resp
        return str(resp.room_id)

    async def enable_encryption(self, room_id: str) -> None:
        resp = await self.client.room_put_state(
            room_id, "m.room.encryption", ENCRYPTION["content"], state_key=""
        )
        assert isinstance(resp, nio.RoomPutStateResponse), resp

    async def send(self, room_id: str, body: str, **extra: Any) -> str:
        """Encrypted when the room is (nio decides from the room state it synced)."""
        await self.wait_room(room_id)
        resp = await self.client.room_send(
            room_id,
            "m.room.message",
            {"msgtype": "m.text", "body": body, **extra},
            ignore_unverified_devices=True,
        )
        assert isinstance(resp, nio.RoomSendResponse), resp
        return str(resp.event_id)

    async def send_event(self, room_id: str, event_type: str, content: dict[str, Any]) -> str:
        """Any room event, encrypted in an encrypted room whatever its type, as Element
        does (nio's ``room_send`` leaves ``m.reaction`` in the clear)."""
        room = await self.wait_room(room_id)
        client = self.client
        if not room.encrypted or client.olm is None:
            resp = await client.room_send(room_id, event_type, content)
            assert isinstance(resp, nio.RoomSendResponse), resp
            return str(resp.event_id)
        if not room.members_synced:
            await client.joined_members(room_id)
        if client.should_query_keys:
            await client.keys_query()
        if client.olm.should_share_group_session(room_id):
            await client.share_group_session(room_id, ignore_unverified_devices=True)
        kind, sealed = client.encrypt(room_id, event_type, content)
        method, path, data = nio.Api.room_send(
            client.access_token, room_id, kind, sealed, uuid.uuid4()
        )
        resp = await client._send(nio.RoomSendResponse, method, path, data, (room_id,))
        assert isinstance(resp, nio.RoomSendResponse), resp
        return str(resp.event_id)

    async def react(self, room_id: str, event_id: str, key: str = "✅") -> str:
        relates = {"rel_type": "m.annotation", "event_id": event_id, "key": key}
        return await self.send_event(room_id, "m.reaction", {"m.relates_to": relates})

    async def vote(self, room_id: str, start: str, answers: list[str]) -> str:
        """A stable MSC3381 poll response, as Element sends it."""
        content = {
            "m.relates_to": {"rel_type": "m.reference", "event_id": start},
            "m.selections": answers,
        }
        return await self.send_event(room_id, "m.poll.response", content)

    async def send_encrypted_image(self, room_id: str, data: bytes, name: str) -> str:
        """A photo as Element sends it to an encrypted room: the file AES-CTR encrypted
        and uploaded, its key, IV and hash in the (Megolm-encrypted) event's ``file``."""
        sealed, keys = encrypt_attachment(data)
        resp, _ = await self.client.upload(
            io.BytesIO(sealed), content_type="application/octet-stream",
            filename=name, filesize=len(sealed),
        )  # fmt: skip
        assert isinstance(resp, nio.UploadResponse), resp
        content = {
            "msgtype": "m.image",
            "body": name,
            "info": {"mimetype": "image/jpeg", "size": len(data)},
            "file": {"url": resp.content_uri, **keys},
        }
        return await self.send_event(room_id, "m.room.message", content)

    async def wait_room(self, room_id: str, within: float = 20.0) -> nio.MatrixRoom:
        deadline = time.monotonic() + within
        while room_id not in self.client.rooms:
            assert time.monotonic() < deadline, f"{room_id} never synced"
            await asyncio.sleep(0.1)
        return self.client.rooms[room_id]

    async def wait_event(
        self, pred: Callable[[nio.Event], bool], *, within: float = 30.0, what: str = "an event"
    ) -> nio.Event:
        deadline = time.monotonic() + within
        while True:
            for ev in list(self.events.values()):
                if pred(ev):
                    return ev
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out waiting for {what}; saw {list(self.events)}")
            await asyncio.sleep(0.1)

    async def release_keys(self) -> None:
        """Send the room keys held back while ``withhold_keys`` was set."""
        self.withhold_keys = False
        held, self._held = self._held, []
        for method, path, args, kw in held:
            await self.client._send(nio.ShareGroupSessionResponse, method, path, *args, **kw)

    async def _sync_forever(self) -> None:
        client = self.client
        while True:
            resp = await client.sync(timeout=1000, full_state=True)
            if isinstance(resp, nio.SyncError):
                await asyncio.sleep(0.5)
                continue
            if client.should_upload_keys:
                await client.keys_upload()
            if client.should_query_keys:
                await client.keys_query()
            if client.should_claim_keys:
                await client.keys_claim(client.get_users_for_key_claiming())
            await client.send_to_device_messages()


@contextlib.asynccontextmanager
async def resident(homeserver: str, user: User, store: Path) -> AsyncIterator[Resident]:
    """A logged-in, syncing resident with a fresh crypto store."""
    await asyncio.to_thread(store.mkdir, parents=True, exist_ok=True)
    cfg = nio.AsyncClientConfig(encryption_enabled=True, store_sync_tokens=False)
    client = nio.AsyncClient(homeserver, user.user_id, store_path=str(store), config=cfg)
    login = await client.login(user.password, device_name="resident-phone")
    assert isinstance(login, nio.LoginResponse), login
    if client.should_upload_keys:
        await client.keys_upload()
    res = Resident(client)
    _patch_key_sharing(res)
    task = asyncio.create_task(res._sync_forever())
    try:
        yield res
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await client.close()


def _patch_key_sharing(res: Resident) -> None:
    """Hold to-device room-key shares back while ``res.withhold_keys`` is set."""
    client = res.client
    original = client._send

    async def send(response_class: Any, method: str, path: str, *args: Any, **kw: Any) -> Any:
        if res.withhold_keys and response_class is nio.ShareGroupSessionResponse:
            res._held.append((method, path, args, kw))
            room_id, users = kw.get("response_data") or (None, set())
            return nio.ShareGroupSessionResponse(room_id, set(users))
        return await original(response_class, method, path, *args, **kw)

    client._send = send
