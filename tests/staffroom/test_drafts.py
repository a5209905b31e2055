"""/announce drafts on the real Redis: a preview is confirmed once, within 10 minutes,
and a scoped room cannot reach outside its scope."""

from __future__ import annotations

from gateway.models import (
    ChatKind,
    InboundMessage,
    Platform,
    PlatformMessageId,
    Sender,
    TargetId,
    UserId,
)
from gateway.outbox import OutboxStore
from gateway.runtime import Runtime
from gateway.staffroom import commands
from gateway.staffroom.config import StaffRoomConfig
from gateway.targets import TargetDirectory

ROOM = StaffRoomConfig(target="telegram:-1001230001", scope="compound:a")


def _msg(text: str, mid: str) -> InboundMessage:
    return InboundMessage(
        platform=Platform("telegram"), dedupe_key=f"u{mid}", target=TargetId(ROOM.target),
        chat_kind=ChatKind.GROUP, message_id=PlatformMessageId(mid),
        sender=Sender(UserId("9"), "Li"), text=text, sent_at=0.0,
    )  # fmt: skip


async def _chats(rt: Runtime) -> None:
    d = TargetDirectory(rt.redis, rt.keys)
    for chat, tags in (("telegram:-1", ["compound:a", "building:1"]), ("telegram:-2", ["x"])):
        await d.upsert(TargetId(chat), ChatKind.GROUP, chat)
        await d.tag(TargetId(chat), tags)


async def _sent_preview(rt: Runtime, mid: str, preview_id: str) -> None:
    """What the outbox records once the preview is sent: its message -> its draft."""
    ref = f"{commands.PREVIEW_ORIGIN}:{ROOM.target}|{mid}"
    await rt.redis.set(rt.keys("msgref", ROOM.target, preview_id), ref)


async def test_confirm_once_and_only_within_ten_minutes(runtime: Runtime) -> None:
    await _chats(runtime)
    await commands.preview(runtime, ROOM, _msg("building:1 | Water off at 9", "5"))
    draft = runtime.keys("staffroom", "draft", ROOM.target, "5")
    assert 590 < await runtime.redis.ttl(draft) <= 600
    await _sent_preview(runtime, "5", "50")
    first = await commands.confirm(runtime, ROOM, "50", "Zhao", None)
    assert first == "A-1：正在发往 1 个会话（Zhao 确认）"  # the room's language: zh
    again = await commands.confirm(runtime, ROOM, "50", "Qian", None)
    assert again.startswith("A-1：")  # the same announcement, not a second one

    await commands.preview(runtime, ROOM, _msg("building:1 | Water back at 12", "6"))
    await _sent_preview(runtime, "6", "60")
    await runtime.redis.delete(runtime.keys("staffroom", "draft", ROOM.target, "6"))  # 10 min on
    late = await commands.confirm(runtime, ROOM, "60", "Zhao", None)
    assert late == "此预览已过期（10 分钟）：请重新发送 /announce。"
    assert await commands.confirm(runtime, ROOM, None, "Zhao", None) == (
        "/confirm 要作为对通知预览的回复发送。"
    )
    en = runtime.config.model_copy(update={"locale": "en"})
    english = Runtime(en, runtime.redis, runtime.redis, runtime.keys, runtime.instance)
    assert await commands.confirm(english, ROOM, "50", "Zhao", None) == (
        "A-1: sending to 1 chat (confirmed by Zhao)"
    )


async def _answer(rt: Runtime, mid: str) -> str:
    """What palm answered in the room to the member's message ``mid`` (still queued)."""
    store = OutboxStore(rt)
    sent = await store.get(f"sr:{ROOM.target}:{mid}")
    assert sent is not None, "no answer in the room"
    assert sent.state == "queued"
    return (await store.message(sent)).text


async def test_a_scoped_room_cannot_announce_outside_its_scope(runtime: Runtime) -> None:
    await _chats(runtime)
    await commands.preview(runtime, ROOM, _msg("building:1 | x | Hello", "8"))
    assert not await runtime.redis.exists(runtime.keys("staffroom", "draft", ROOM.target, "8"))
    # The refusal goes back to the room, naming the chat, in the room's language (zh):
    assert await _answer(runtime, "8") == (
        "无法发布通知：这些群聊不在你负责的范围（compound:a）内：telegram:-2"
    )


async def test_announce_refusals_read_in_the_rooms_language(runtime: Runtime) -> None:
    await _chats(runtime)
    await commands.preview(runtime, ROOM, _msg("building:9 | 停水", "20"))
    assert await _answer(runtime, "20") == (
        "无法发布通知：受众「building:9」没有匹配到任何可用的群聊"
    )
    await commands.preview(runtime, ROOM, _msg("building:1", "21"))  # no text
    assert await _answer(runtime, "21") == (
        "无法发布通知：请按「/announce 受众 | 内容」的格式发送，"
        "例如 /announce building:5 | 明天 9:00 至 12:00 停水"
    )
    en = runtime.config.model_copy(update={"locale": "en"})
    english = Runtime(en, runtime.redis, runtime.redis, runtime.keys, runtime.instance)
    await commands.preview(english, ROOM, _msg("building:9 | Water off", "22"))
    assert await _answer(runtime, "22") == (
        "/announce: the audience 'building:9' matches no active target"
    )
    await commands.preview(english, ROOM, _msg("building:1", "23"))
    assert await _answer(runtime, "23") == (
        "/announce: usage: /announce EXPR | TEXT, for example /announce building:5 | Water off"
    )
