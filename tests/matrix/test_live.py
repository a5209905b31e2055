"""The adapter against a real Synapse: join, send, replies, direct chats, encryption."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from redis.asyncio import Redis

from gateway.errors import TargetGone as TargetGoneError
from gateway.keys import Keys
from gateway.models import (
    AttachmentKind,
    ChatKind,
    Command,
    InboundEvent,
    InboundMessage,
    OutboundAttachment,
    OutboundMessage,
    TargetGone,
    TargetId,
    TargetSeen,
)
from tests.fakes.synapse import Synapse
from tests.matrix.conftest import bot_config, running, wait_for

pytestmark = pytest.mark.synapse


def _seen(target: str) -> Callable[[list[InboundEvent]], bool]:
    return lambda evs: any(isinstance(e, TargetSeen) and e.target == target for e in evs)


def _messages(evs: list[InboundEvent]) -> list[InboundMessage]:
    return [e for e in evs if isinstance(e, InboundMessage)]


async def test_invite_join_announce_reply_and_direct(
    synapse: Synapse, new_user: Callable[..., Any], redis: Redis, keys: Keys
) -> None:
    bot = await new_user("palmbot")
    alice = await new_user("alice")
    async with running(bot_config(synapse, bot), redis, keys) as adapter:
        room = await alice.create_room(invite=[bot.user_id], name="Building 5")
        target = TargetId(f"matrix:{room}")
        evs = await wait_for(redis, keys, _seen(target), what="TargetSeen for the group")
        seen = next(e for e in evs if isinstance(e, TargetSeen) and e.target == target)
        assert seen.kind is ChatKind.GROUP
        assert seen.title == "Building 5"
        assert seen.reason is None
        assert (await alice.members(room))[bot.user_id] == "join"

        receipt = await adapter.send(
            OutboundMessage(target, "Tank cleaning: **Tue 9:00**", idempotency_key="ann-1")
        )
        (event_id,) = receipt.message_ids
        sent = [e for e in await alice.messages(room) if e["event_id"] == event_id]
        assert sent, "the announcement is not in the room"
        content = sent[0]["content"]
        assert content["body"] == "Tank cleaning: Tue 9:00"
        assert content["formatted_body"] == "<p>Tank cleaning: <b>Tue 9:00</b></p>"

        reply_id = await alice.send(room, "is it all day?", reply_to=event_id)
        evs = await wait_for(
            redis,
            keys,
            lambda evs: any(m.message_id == reply_id for m in _messages(evs)),
            what="the reply",
        )
        reply = next(m for m in _messages(evs) if m.message_id == reply_id)
        assert reply.reply_to == event_id
        assert reply.text == "is it all day?"
        assert reply.chat_kind is ChatKind.GROUP
        assert reply.sender.user_id == alice.user_id
        # The bot's own announcement never comes back as a resident message.
        assert all(m.message_id != event_id for m in _messages(evs))

        dm = await alice.create_room(invite=[bot.user_id], is_direct=True)
        dm_target = TargetId(f"matrix:{dm}")
        await wait_for(redis, keys, _seen(dm_target), what="TargetSeen for the direct chat")
        dm_id = await alice.send(dm, "/report the lift on floor 3 is stuck")
        evs = await wait_for(
            redis,
            keys,
            lambda evs: any(m.message_id == dm_id for m in _messages(evs)),
            what="the direct message",
        )
        msg = next(m for m in _messages(evs) if m.message_id == dm_id)
        assert msg.chat_kind is ChatKind.DIRECT
        assert msg.command is Command.REPORT
        assert msg.text == "the lift on floor 3 is stuck"
        dm_seen = next(e for e in evs if isinstance(e, TargetSeen) and e.target == dm_target)
        assert dm_seen.kind is ChatKind.DIRECT


async def test_kick_makes_target_gone(
    synapse: Synapse, new_user: Callable[..., Any], redis: Redis, keys: Keys
) -> None:
    bot = await new_user("palmbot")
    alice = await new_user("alice")
    async with running(bot_config(synapse, bot), redis, keys):
        room = await alice.create_room(invite=[bot.user_id], name="Kick me")
        target = TargetId(f"matrix:{room}")
        await wait_for(redis, keys, _seen(target), what="join")
        await alice.kick(room, bot.user_id, reason="spam")
        evs = await wait_for(
            redis,
            keys,
            lambda evs: any(isinstance(e, TargetGone) and e.target == target for e in evs),
            what="TargetGone",
        )
        gone = next(e for e in evs if isinstance(e, TargetGone))
        assert gone.reason == f"kicked by {alice.user_id}: spam"


async def test_encrypted_room_is_reported_not_crashed_on(
    synapse: Synapse, new_user: Callable[..., Any], redis: Redis, keys: Keys
) -> None:
    bot = await new_user("palmbot")
    alice = await new_user("alice")
    async with running(bot_config(synapse, bot), redis, keys):
        secret = await alice.create_room(invite=[bot.user_id], name="Secret", encrypted=True)
        target = TargetId(f"matrix:{secret}")
        evs = await wait_for(redis, keys, _seen(target), what="TargetSeen (encrypted)")
        seen = next(e for e in evs if isinstance(e, TargetSeen) and e.target == target)
        assert seen.reason == "encrypted room: not supported yet"
        # An undecryptable event, then a plain room: the loop keeps going.
        await alice.call(
            "PUT",
            f"/rooms/{secret}/send/m.room.encrypted/t1",
            {"algorithm": "m.megolm.v1.aes-sha2", "ciphertext": "AAAA", "session_id": "x"},
        )
        plain = await alice.create_room(invite=[bot.user_id], name="Plain")
        await wait_for(redis, keys, _seen(TargetId(f"matrix:{plain}")), what="next room")
        hello = await alice.send(plain, "hello @palm")
        evs = await wait_for(
            redis, keys, lambda evs: any(m.message_id == hello for m in _messages(evs))
        )
        assert all(m.target != target for m in _messages(evs))


async def test_attachment_edit_and_recall(
    synapse: Synapse, new_user: Callable[..., Any], redis: Redis, keys: Keys
) -> None:
    bot = await new_user("palmbot")
    alice = await new_user("alice")
    room = await alice.create_room(invite=[bot.user_id], name="Edits")
    await bot.join(room)
    target = TargetId(f"matrix:{room}")
    png = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
    msg = OutboundMessage(
        target,
        "Tank cleaning Tue",
        idempotency_key="ann-7",
        title="Notice",
        attachments=(OutboundAttachment(AttachmentKind.PHOTO, "tank.png", "image/png", png),),
    )
    async with running(bot_config(synapse, bot), redis, keys, sync=False) as ad:
        receipt = await ad.send(msg)
        text_id, image_id = receipt.message_ids
        fixed = OutboundMessage(target, "Tank cleaning **Wed**", idempotency_key="ann-7")
        await ad.edit(target, receipt.message_ids, fixed)
        await ad.edit(target, receipt.message_ids, fixed)  # a retried edit: same txn id
        events = {e["event_id"]: e for e in await alice.messages(room)}
        assert events[text_id]["content"]["body"] == "Notice\n\nTank cleaning Tue"
        image = events[image_id]["content"]
        assert image["msgtype"] == "m.image"
        assert image["url"].startswith("mxc://")
        edits = [
            e
            for e in events.values()
            if e["content"].get("m.relates_to", {}).get("rel_type") == "m.replace"
        ]
        assert len(edits) == 1
        assert edits[0]["content"]["m.relates_to"]["event_id"] == text_id
        assert edits[0]["content"]["m.new_content"]["body"] == "Tank cleaning Wed"
        assert edits[0]["content"]["body"] == "* Tank cleaning Wed"

        await ad.recall(target, receipt.message_ids, receipt.sent_at)
        await ad.recall(target, receipt.message_ids, receipt.sent_at)  # idempotent
        events = {
            e["event_id"]: e
            for e in (await alice.call("GET", f"/rooms/{room}/messages?dir=b&limit=50"))["chunk"]
        }
        assert events[text_id]["content"] == {}
        assert events[image_id]["content"] == {}

        await alice.kick(room, bot.user_id)
        with pytest.raises(TargetGoneError):
            await ad.send(OutboundMessage(target, "after kick", idempotency_key="k-1"))


async def test_send_to_a_room_the_bot_is_not_in_is_target_gone(
    synapse: Synapse, new_user: Callable[..., Any], redis: Redis, keys: Keys
) -> None:
    """Not "encrypted room": nio 0.26 hands the 403 of the first send's encryption read
    back as a success. And a public room the bot was never invited to is not joined."""
    bot = await new_user("palmbot")
    alice = await new_user("alice")
    made = await alice.call("POST", "/createRoom", {"preset": "public_chat", "name": "Open"})
    room = str(made["room_id"])
    async with running(bot_config(synapse, bot), redis, keys, sync=False) as adapter:
        msg = OutboundMessage(TargetId(f"matrix:{room}"), "hello", idempotency_key="open-1")
        with pytest.raises(TargetGoneError, match="not in room"):
            await adapter.send(msg)
    assert bot.user_id not in await alice.members(room)
