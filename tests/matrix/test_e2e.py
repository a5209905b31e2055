"""Encrypted rooms against the real Synapse, with residents on matrix-nio[e2e] clients."""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any
from urllib.parse import quote

import nio
import pytest
from redis.asyncio import Redis

from adapters.matrix.crypto import NotOwner
from adapters.matrix.rooms import ENCRYPTED_REASON
from gateway import metrics
from gateway.config import MatrixConfig
from gateway.errors import NotPossible
from gateway.keys import Keys
from gateway.models import (
    ChatKind,
    Command,
    InboundEvent,
    InboundMessage,
    OutboundMessage,
    PlatformMessageId,
    TargetId,
    TargetSeen,
)
from gateway.targets import TargetDirectory
from tests.fakes.synapse import Synapse, User
from tests.matrix.conftest import bot_config, running, wait_for
from tests.matrix.resident import Resident, resident

pytestmark = pytest.mark.synapse


def e2e_config(synapse: Synapse, bot: Any, store: Path, **overrides: Any) -> Any:
    return bot_config(synapse, bot, e2e={"store_dir": store, "owner_lease_seconds": 4}, **overrides)


@dataclass
class Party:
    """The bot (its config with e2e on) and a resident, Alice, with her own e2e phone."""

    synapse: Synapse
    bot: User
    alice: User
    config: MatrixConfig
    tmp: Path

    def phone(self) -> contextlib.AbstractAsyncContextManager[Resident]:
        return resident(self.synapse.url, self.alice, self.tmp / "alice")

    async def room(
        self, phone: Resident, redis: Redis, keys: Keys, name: str, *, encrypted: bool = True
    ) -> tuple[str, TargetId]:
        """A room Alice makes and invites the bot to, once palm has it as active."""
        room = await phone.create_room([self.bot.user_id], name=name, encrypted=encrypted)
        target = TargetId(f"matrix:{room}")
        await wait_for(redis, keys, _seen_active(target), what=f"{name}, active")
        return room, target


@pytest.fixture
async def party(synapse: Synapse, new_user: Callable[..., Any], tmp_path: Path) -> Party:
    bot = await new_user("palmbot")
    alice = await new_user("alice")
    return Party(synapse, bot, alice, e2e_config(synapse, bot, tmp_path / "palm-crypto"), tmp_path)


def _seen_active(target: str) -> Callable[[list[InboundEvent]], bool]:
    return lambda evs: any(
        isinstance(e, TargetSeen) and e.target == target and e.reason is None for e in evs
    )


def _message(pred: Callable[[InboundMessage], bool]) -> Callable[[list[InboundEvent]], bool]:
    return lambda evs: any(isinstance(e, InboundMessage) and pred(e) for e in evs)


async def _raw(user: Any, room: str, event_id: str) -> dict[str, Any]:
    """The event as Synapse stores it: what anyone without the keys sees."""
    body: dict[str, Any] = await user.call("GET", f"/rooms/{quote(room)}/event/{quote(event_id)}")
    return body


async def _raw_type(user: Any, room: str, event_id: str) -> str:
    return str((await _raw(user, room, event_id))["type"])


async def test_encrypted_room_announce_report_answer_edit_recall(
    party: Party, redis: Redis, keys: Keys
) -> None:
    alice, config = party.alice, party.config
    async with (
        party.phone() as phone,
        running(config, redis, keys) as adapter,
    ):
        room, target = await party.room(phone, redis, keys, "Building 5")

        # An announcement: encrypted on the server, readable on the resident's phone.
        receipt = await adapter.send(
            OutboundMessage(target, "Tank cleaning: **Tue 9:00**", idempotency_key="e2e-ann-1")
        )
        (ann_id,) = receipt.message_ids
        assert await _raw_type(alice, room, ann_id) == "m.room.encrypted"
        ann = await phone.wait_event(
            lambda e: e.event_id == ann_id and isinstance(e, nio.RoomMessageText),
            what="the decrypted announcement",
        )
        assert isinstance(ann, nio.RoomMessageText)
        assert ann.body == "Tank cleaning: Tue 9:00"
        assert ann.decrypted

        # The resident's encrypted /report becomes a ticket message with the plain text.
        report_id = await phone.send(room, "/report the lift on floor 3 is stuck")
        assert await _raw_type(alice, room, report_id) == "m.room.encrypted"
        evs = await wait_for(
            redis, keys, _message(lambda m: m.message_id == report_id), what="the report"
        )
        report = next(e for e in evs if isinstance(e, InboundMessage) and e.message_id == report_id)
        assert report.command is Command.REPORT
        assert report.text == "the lift on floor 3 is stuck"
        assert report.sender.user_id == alice.user_id

        # The staff answer: a reply to the report, encrypted, relation readable.
        answer = await adapter.send(
            OutboundMessage(
                target,
                "Received, the technician is on the way.",
                idempotency_key="e2e-answer-1",
                reply_to=PlatformMessageId(report_id),
                plain=True,
            )
        )
        (answer_id,) = answer.message_ids
        assert await _raw_type(alice, room, answer_id) == "m.room.encrypted"
        got = await phone.wait_event(
            lambda e: e.event_id == answer_id and isinstance(e, nio.RoomMessageText),
            what="the decrypted answer",
        )
        assert isinstance(got, nio.RoomMessageText)
        assert got.body.endswith("Received, the technician is on the way.")
        relates = got.source["content"]["m.relates_to"]
        assert relates["m.in_reply_to"]["event_id"] == report_id

        # Edit: an encrypted m.replace the phone decrypts.
        await adapter.edit(
            target,
            [ann_id],
            OutboundMessage(target, "Tank cleaning: **Wed 9:00**", idempotency_key="e2e-ann-1"),
        )
        edit = await phone.wait_event(
            lambda e: (
                isinstance(e, nio.RoomMessageText)
                and e.source["content"].get("m.relates_to", {}).get("event_id") == ann_id
            ),
            what="the decrypted edit",
        )
        assert edit.source["content"]["m.new_content"]["body"] == "Tank cleaning: Wed 9:00"
        assert await _raw_type(alice, room, edit.event_id) == "m.room.encrypted"

        # Recall: the announcement and its edit are redacted.
        await adapter.recall(target, [ann_id], 0.0)
        for gone in (ann_id, edit.event_id):
            raw = await _raw(alice, room, gone)
            assert raw["content"] == {}, raw
            assert "redacted_because" in raw["unsigned"]


async def test_encryption_turned_on_later(party: Party, redis: Redis, keys: Keys) -> None:
    alice, config = party.alice, party.config
    async with (
        party.phone() as phone,
        running(config, redis, keys) as adapter,
    ):
        room, target = await party.room(phone, redis, keys, "Courtyard", encrypted=False)
        first = await adapter.send(OutboundMessage(target, "plain", idempotency_key="later-1"))
        assert await _raw_type(alice, room, first.message_ids[0]) == "m.room.message"

        await phone.enable_encryption(room)
        # The switch is seen by the sync loop; until then nothing is sent in the clear.
        await _wait_encrypted(adapter, room)
        second = await adapter.send(OutboundMessage(target, "secret", idempotency_key="later-2"))
        (second_id,) = second.message_ids
        assert await _raw_type(alice, room, second_id) == "m.room.encrypted"
        got = await phone.wait_event(
            lambda e: e.event_id == second_id and isinstance(e, nio.RoomMessageText),
            what="the decrypted second announcement",
        )
        assert isinstance(got, nio.RoomMessageText)
        assert got.body == "secret"


async def _wait_encrypted(adapter: Any, room: str, within: float = 20.0) -> None:
    import asyncio
    import time

    deadline = time.monotonic() + within
    while not await adapter.needs_owner(TargetId(f"matrix:{room}")):
        assert time.monotonic() < deadline, "the room never switched to encrypted"
        await asyncio.sleep(0.1)


async def test_late_room_key_ticket_appears_when_key_arrives(
    party: Party, redis: Redis, keys: Keys
) -> None:
    bot, config = party.bot, party.config
    before = metrics.MATRIX_UNDECRYPTABLE._value.get()
    async with (
        party.phone() as phone,
        running(config, redis, keys),
    ):
        room, _ = await party.room(phone, redis, keys, "Building 7")
        phone.withhold_keys = True
        late_id = await phone.send(room, "/report water leak in the basement")
        # Palm sees the event, cannot decrypt it, and keeps it.
        pending_key = keys("matrix", bot.user_id, "undecrypted")
        await _until(lambda: redis.hexists(pending_key, late_id), what="the event kept")
        # Counted right after the write, which this test's own Redis read may beat.
        await _until(
            lambda: _true(metrics.MATRIX_UNDECRYPTABLE._value.get() > before), what="counted"
        )
        events = await wait_for(redis, keys, lambda evs: True)
        assert not _message(lambda m: m.message_id == late_id)(events)

        await phone.release_keys()
        evs = await wait_for(
            redis,
            keys,
            _message(lambda m: m.message_id == late_id),
            within=30,
            what="the late report",
        )
        late = [e for e in evs if isinstance(e, InboundMessage) and e.message_id == late_id]
        assert len(late) == 1
        assert late[0].command is Command.REPORT
        assert late[0].text == "water leak in the basement"
        await _until(
            lambda: _not(redis.hexists(pending_key, late_id)), what="the kept event dropped"
        )


async def _not(aw: Any) -> bool:
    return not await aw


async def _until(check: Callable[[], Any], *, within: float = 30.0, what: str) -> None:
    import asyncio
    import time

    deadline = time.monotonic() + within
    while not await check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.1)


async def test_edit_from_a_process_that_does_not_own_the_device(
    party: Party, redis: Redis, keys: Keys
) -> None:
    """`palm announcements edit` runs in its own process: the owner makes the edit."""
    alice, config = party.alice, party.config
    async with (
        party.phone() as phone,
        running(config, redis, keys) as owner,
        running(config, redis, keys, sync=False) as other,
    ):
        room, target = await party.room(phone, redis, keys, "Building 9")
        msg = OutboundMessage(target, "Meeting at 19:00", idempotency_key="relay-1")
        (ann_id,) = (await owner.send(msg)).message_ids
        assert not other.owns()

        await other.edit(target, [ann_id], replace(msg, text="Meeting at 20:00"))
        edit = await phone.wait_event(
            lambda e: (
                isinstance(e, nio.RoomMessageText)
                and e.source["content"].get("m.relates_to", {}).get("event_id") == ann_id
            ),
            what="the decrypted edit",
        )
        assert edit.source["content"]["m.new_content"]["body"] == "Meeting at 20:00"
        assert await _raw_type(alice, room, edit.event_id) == "m.room.encrypted"


async def test_rooms_marked_unsupported_become_active_on_upgrade(
    synapse: Synapse,
    new_user: Callable[..., Any],
    redis: Redis,
    keys: Keys,
    tmp_path: Path,
) -> None:
    bot = await new_user("palmbot")
    directory = TargetDirectory(redis, keys)
    old = TargetId("matrix:!old-encrypted:localhost")
    await directory.upsert(old, ChatKind.GROUP, "Building 3", reason=ENCRYPTED_REASON)
    gone = TargetId("matrix:!kicked:localhost")
    await directory.upsert(gone, ChatKind.GROUP, "Building 4", reason="kicked by @x:localhost")
    config = e2e_config(synapse, bot, tmp_path / "palm-crypto")
    async with running(config, redis, keys, sync=False):
        events = await wait_for(redis, keys, _seen_active(old), what="the upgraded room")
    assert not _seen_active(gone)(events)


async def test_device_reused_across_restarts_and_a_lost_store_means_a_new_device(
    synapse: Synapse,
    new_user: Callable[..., Any],
    redis: Redis,
    keys: Keys,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    bot = await new_user("palmbot")
    store = tmp_path / "palm-crypto"
    config = e2e_config(synapse, bot, store)

    async def owned_device() -> str:
        async with running(config, redis, keys) as adapter:
            await _until(lambda: _true(adapter.owns()), what="ownership")
            device = adapter.device_id
            assert device
            await _until(lambda: _true(any(store.iterdir())), what="the crypto store")
            return device

    first = await owned_device()
    assert oct(store.stat().st_mode & 0o777) == "0o700"
    assert await owned_device() == first  # same device, same store, same keys
    for f in store.iterdir():
        f.unlink()
    caplog.set_level("WARNING")
    third = await owned_device()
    assert third != first
    assert any("crypto store of device" in r.getMessage() for r in caplog.records)
    # Only the keys moved: the login keeps its device, so a send resumed after a crash
    # still has Synapse's per-device txn-id dedupe.
    session = keys("matrix", bot.user_id, "session")
    assert await redis.hget(session, "device_id") in (first, first.encode())
    assert await owned_device() == third  # the new device's store is used from now on


async def _true(value: bool) -> bool:
    return value


async def test_room_keys_still_decrypt_after_a_restart_on_the_same_store(
    party: Party, redis: Redis, keys: Keys
) -> None:
    """The Olm account and sessions come back from the store: a resident's new room key
    (a new Megolm session, shared over the Olm session made before the restart, and a
    new room) is decrypted by the restarted process."""
    config = party.config
    async with party.phone() as phone:
        async with running(config, redis, keys):
            room, _ = await party.room(phone, redis, keys, "Building 1")
            first = await phone.send(room, "/report broken door")
            await wait_for(redis, keys, _message(lambda m: m.message_id == first), what="1st")
        async with running(config, redis, keys):
            room2, _ = await party.room(phone, redis, keys, "Building 2")
            second = await phone.send(room2, "/report broken window")
            evs = await wait_for(
                redis, keys, _message(lambda m: m.message_id == second), what="2nd"
            )
    got = next(e for e in evs if isinstance(e, InboundMessage) and e.message_id == second)
    assert got.text == "broken window"


async def test_trust_verified_refuses_a_room_with_an_unverified_device(
    party: Party, redis: Redis, keys: Keys
) -> None:
    config = party.config.model_copy(
        update={"e2e": party.config.e2e.model_copy(update={"trust": "verified"})}
    )
    async with party.phone() as phone, running(config, redis, keys) as adapter:
        room, target = await party.room(phone, redis, keys, "Building 11")
        with pytest.raises(NotPossible, match="unverified device"):
            await adapter.send(OutboundMessage(target, "hello", idempotency_key="verified-1"))
        bot_events = [
            e
            for e in (await party.alice.call("GET", f"/rooms/{quote(room)}/messages?dir=b"))[
                "chunk"
            ]
            if e["sender"] == party.bot.user_id
            and e["type"].startswith("m.room.")
            and e["type"] in ("m.room.message", "m.room.encrypted")
        ]
        assert bot_events == []


async def test_never_plain_to_an_encrypted_room_the_sync_has_not_recorded_yet(
    party: Party, redis: Redis, keys: Keys
) -> None:
    """A room joined a moment ago (its facts are written after the whole sync batch):
    the server's state decides, so the send is never made in the clear."""
    async with party.phone() as phone, running(party.config, redis, keys, sync=False) as adapter:
        room = await phone.create_room([party.bot.user_id], name="Building 12")
        await party.bot.join(room)
        target = TargetId(f"matrix:{room}")
        assert await adapter.needs_owner(target)
        with pytest.raises(NotOwner):  # not the owner here: routed, not sent in the clear
            await adapter.send(OutboundMessage(target, "hello", idempotency_key="race-1"))
        chunk = (await party.alice.call("GET", f"/rooms/{quote(room)}/messages?dir=b"))["chunk"]
        assert not [e for e in chunk if e["sender"] == party.bot.user_id and "body" in e["content"]]
