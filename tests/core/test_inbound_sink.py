from redis.asyncio import Redis

from gateway.codec import decode_event, encode_event
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
