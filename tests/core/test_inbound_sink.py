import asyncio

from redis.asyncio import Redis

from gateway.codec import decode_event, encode_event
from gateway.errors import StoreUnavailable
from gateway.inbound import RedisInboundSink, inbound_stream
from gateway.keys import Keys
from gateway.models import (
    Attachment,
    AttachmentKind,
    ChatKind,
    Command,
    InboundMessage,
    Location,
    Platform,
    PlatformMessageId,
    Sender,
    TargetGone,
    TargetId,
    UserId,
)


def _msg(n: int) -> InboundMessage:
    return InboundMessage(
        platform=Platform("telegram"),
        dedupe_key=f"u{n}",
        target=TargetId("telegram:-100"),
        chat_kind=ChatKind.GROUP,
        message_id=PlatformMessageId(str(n)),
        sender=Sender(UserId("42"), "王阿姨", "zh-hans"),
        text="5号楼消防栓坏了",
        sent_at=1700000000.0 + n,
        command=Command.REPORT,
        attachments=(Attachment(AttachmentKind.PHOTO, "file-1", size=10),),
        location=Location(31.2, 121.4, "5号楼"),
    )


def test_codec_round_trip() -> None:
    for event in (_msg(1), TargetGone(TargetId("matrix:!a:b"), "kicked")):
        assert decode_event(encode_event(event)) == event


async def test_duplicates_are_dropped(redis: Redis, keys: Keys) -> None:
    sink = RedisInboundSink(redis, keys)
    assert await sink.accept([_msg(1), _msg(2)]) == 2
    assert await sink.accept([_msg(2), _msg(3), _msg(3)]) == 1
    entries = await redis.xrange(inbound_stream(keys))
    assert [decode_event(e["e"]).dedupe_key for _, e in entries] == ["u1", "u2", "u3"]


async def test_concurrent_accepts_go_as_groups_each_with_its_own_count(
    redis: Redis, keys: Keys
) -> None:
    # 40 callers at once (a webhook flood): each is answered with its own events' count,
    # duplicates across callers are dropped once, and the order of arrival is kept.
    sink = RedisInboundSink(redis, keys)
    calls = [[_msg(n)] for n in range(30)] + [[_msg(n), _msg(100 + n)] for n in range(10)]
    counts = await asyncio.gather(*(sink.accept(c) for c in calls))
    assert counts == [1] * 30 + [1] * 10
    entries = await redis.xrange(inbound_stream(keys))
    keys_in_order = [decode_event(e["e"]).dedupe_key for _, e in entries]
    assert keys_in_order == [f"u{n}" for n in range(30)] + [f"u{100 + n}" for n in range(10)]


async def test_a_failed_group_fails_every_caller_in_it(keys: Keys) -> None:
    # A Redis that refuses connections: every waiting caller gets StoreUnavailable (none
    # hangs, none is told its events are stored).
    dead = Redis(host="127.0.0.1", port=1, socket_connect_timeout=0.5)
    sink = RedisInboundSink(dead, keys)
    try:
        results = await asyncio.gather(
            *(sink.accept([_msg(n)]) for n in range(8)), return_exceptions=True
        )
    finally:
        await dead.aclose()
    assert all(isinstance(r, StoreUnavailable) for r in results)
