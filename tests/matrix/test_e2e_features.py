"""Confirmations (reactions), polls and residents' files in encrypted rooms, against the
real Synapse, with a resident on her own matrix-nio[e2e] client.

Each step checks two sides: what Synapse holds (``m.room.encrypted``, so anyone without
the keys sees nothing) and what the other end decrypted.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import nio
import pytest
from redis.asyncio import Redis

from adapters.matrix.media import split_ref
from gateway.errors import NotPossible
from gateway.keys import Keys
from gateway.models import (
    REACTION_PREFIX,
    ButtonPress,
    InboundEvent,
    InboundMessage,
    OutboundMessage,
    PlatformMessageId,
    PollSpec,
    PollVote,
)
from tests.matrix.conftest import running, wait_for
from tests.matrix.test_e2e import Party, _raw_type, party

__all__ = ["party"]

pytestmark = pytest.mark.synapse


async def _bot_sent(party: Party, room: str) -> list[dict[str, Any]]:
    """Every event of the bot's in ``room`` as Synapse holds it, oldest first."""
    page = await party.alice.call("GET", f"/rooms/{quote(room)}/messages?dir=b&limit=200")
    found = [e for e in page["chunk"] if e["sender"] == party.bot.user_id]
    found.reverse()
    return found


def _related(events: list[dict[str, Any]], event_id: str) -> list[dict[str, Any]]:
    return [e for e in events if e["content"].get("m.relates_to", {}).get("event_id") == event_id]


def _first(events: list[InboundEvent], kind: type[Any], **fields: Any) -> Any:
    return next(
        (
            e
            for e in events
            if isinstance(e, kind) and all(getattr(e, k) == v for k, v in fields.items())
        ),
        None,
    )


async def _decrypted(
    party: Party, redis: Redis, keys: Keys, room: str, event_id: str, kind: type[Any]
) -> Any:
    """The resident's event ``event_id``: encrypted on the server, and palm's inbound
    event of ``kind`` made from its cleartext."""
    assert await _raw_type(party.alice, room, event_id) == "m.room.encrypted"
    evs = await wait_for(
        redis,
        keys,
        lambda evs: _first(evs, kind, dedupe_key=event_id) is not None,
        what=f"the decrypted {kind.__name__}",
    )
    return _first(evs, kind, dedupe_key=event_id)


async def test_confirmation_reactions_are_encrypted_both_ways(
    party: Party, redis: Redis, keys: Keys
) -> None:
    async with party.phone() as phone, running(party.config, redis, keys) as adapter:
        room, target = await party.room(phone, redis, keys, "Building 5")
        notice = await adapter.send(
            OutboundMessage(target, "Gas off tomorrow 9:00", idempotency_key="e2e-confirm-1")
        )
        (notice_id,) = notice.message_ids

        # The bot's own ✅ under its notice: encrypted (nio alone would send it in the
        # clear), the relation readable so the server still aggregates it.
        await adapter.react(target, notice_id, "✅", "e2e-confirm-1:d1")
        await adapter.react(target, notice_id, "✅", "e2e-confirm-1:d1")  # a retry: no-op
        mine = _related(await _bot_sent(party, room), notice_id)
        assert [e["type"] for e in mine] == ["m.room.encrypted"], mine
        assert mine[0]["content"]["m.relates_to"]["rel_type"] == "m.annotation"
        seen = await phone.wait_event(
            lambda e: e.event_id == mine[0]["event_id"] and isinstance(e, nio.ReactionEvent),
            what="the bot's decrypted reaction",
        )
        assert isinstance(seen, nio.ReactionEvent)
        assert (seen.reacts_to, seen.key, seen.decrypted) == (notice_id, "✅", True)

        # The resident's ✅, encrypted as Element sends it, is decrypted into the press.
        press_id = await phone.react(room, notice_id, "✅️")  # with a variation selector
        press = await _decrypted(party, redis, keys, room, press_id, ButtonPress)
        assert press.data == REACTION_PREFIX + "✅"
        assert press.message_id == notice_id
        assert press.target == target
        assert press.sender.user_id == party.alice.user_id


async def test_poll_start_vote_and_end_are_encrypted(
    party: Party, redis: Redis, keys: Keys
) -> None:
    async with party.phone() as phone, running(party.config, redis, keys) as adapter:
        room, target = await party.room(phone, redis, keys, "Building 6")
        spec = PollSpec("Repaint the lobby?", ("Yes", "No", "Later"))
        sent = await adapter.send(
            OutboundMessage(target, "1. Yes 2. No 3. Later", "e2e-poll-1", poll=spec)
        )
        (start_id,) = sent.message_ids
        assert await _raw_type(party.alice, room, start_id) == "m.room.encrypted"
        start = await phone.wait_event(
            lambda e: e.event_id == start_id and e.source.get("type") == "m.poll.start",
            what="the decrypted poll start",
        )
        answers = start.source["content"]["m.poll"]["answers"]
        assert [a["m.text"][0]["body"] for a in answers] == ["Yes", "No", "Later"]

        vote_id = await phone.vote(room, start_id, ["2"])
        vote = await _decrypted(party, redis, keys, room, vote_id, PollVote)
        assert (vote.poll_ref, vote.options, vote.target) == (start_id, (2,), target)
        assert vote.sender.user_id == party.alice.user_id

        result = await adapter.send(
            OutboundMessage(
                target,
                "Result: Later 1",
                "e2e-poll-1:end",
                reply_to=PlatformMessageId(start_id),
                stop_poll=True,
            )
        )
        ends = [e for e in _related(await _bot_sent(party, room), start_id)]
        assert {e["type"] for e in ends} == {"m.room.encrypted"}, ends
        await phone.wait_event(
            lambda e: (
                e.source.get("type") == "m.poll.end"
                and e.source["content"]["m.relates_to"]["event_id"] == start_id
            ),
            what="the decrypted poll end",
        )
        (result_id,) = result.message_ids
        got = await phone.wait_event(
            lambda e: e.event_id == result_id and isinstance(e, nio.RoomMessageText),
            what="the decrypted result",
        )
        assert isinstance(got, nio.RoomMessageText)
        assert got.body.endswith("Result: Later 1")


JPEG = b"\xff\xd8\xff\xe0" + bytes(range(256)) * 40 + b"\xff\xd9"


async def test_resident_photo_from_an_encrypted_room_is_fetched_decrypted(
    party: Party, redis: Redis, keys: Keys
) -> None:
    async with party.phone() as phone, running(party.config, redis, keys) as adapter:
        room, _ = await party.room(phone, redis, keys, "Building 8")
        photo_id = await phone.send_encrypted_image(room, JPEG, "leak.jpg")
        msg = await _decrypted(party, redis, keys, room, photo_id, InboundMessage)
        (att,) = msg.attachments
        assert (att.name, att.mime, att.size) == ("leak.jpg", "image/jpeg", len(JPEG))

        # The media repository holds ciphertext only; staff get the photo itself.
        url, key = split_ref(att.ref)
        assert key is not None
        stored = await adapter.fetch_attachment(url)
        assert stored != JPEG
        assert len(stored) == len(JPEG)
        assert await adapter.fetch_attachment(att.ref) == JPEG
        assert await adapter.fetch_file(att.ref, 10 * 1024 * 1024) == (JPEG, "image/jpeg")
        with pytest.raises(NotPossible, match="larger than"):
            await adapter.fetch_file(att.ref, 100)

        # A file swapped on the server (or a wrong hash) is refused, never served.
        tampered = att.ref.replace("sha256=", "sha256=AAAA")
        with pytest.raises(NotPossible, match="does not check out"):
            await adapter.fetch_attachment(tampered)
