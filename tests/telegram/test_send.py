"""Sending, editing, recalling and the error table, against the fake over real HTTP."""

from __future__ import annotations

import logging
import time

import pytest
from pydantic import SecretStr
from redis.asyncio import Redis

from adapters.telegram import TelegramAdapter
from gateway import errors as gw
from gateway.config import GatewayConfig
from gateway.keys import Keys
from gateway.metrics import TELEGRAM_AMBIGUOUS
from gateway.models import (
    AttachmentKind,
    OutboundAttachment,
    OutboundMessage,
    PlatformMessageId,
    TargetId,
)
from gateway.ratelimit import RateLimiter
from tests.fakes.telegram_api import FakeTelegram
from tests.telegram.conftest import deliver, make_config, make_ctx


def out(chat: int, text: str, **kw: object) -> OutboundMessage:
    return OutboundMessage(TargetId(f"telegram:{chat}"), text, f"k-{chat}-{time.time()}", **kw)  # type: ignore[arg-type]


def ambiguous_count() -> float:
    return TELEGRAM_AMBIGUOUS._value.get()  # type: ignore[attr-defined, no-any-return]


async def test_send_reply_returns_message_id_and_escapes(
    fake: FakeTelegram, adapter: TelegramAdapter
) -> None:
    asked = fake.private_message(42, "the tap leaks")["message"]["message_id"]
    receipt = await adapter.send(
        out(42, "Received <b>& on the way", plain=True, reply_to=PlatformMessageId(str(asked)))
    )
    [sent] = fake.sent_to(42)
    assert receipt.message_ids == (str(sent.message_id),)
    assert sent.text == "Received <b>& on the way"  # shown literally
    assert sent.reply_to == asked


async def test_reply_to_a_message_that_is_gone_is_still_sent(
    fake: FakeTelegram, adapter: TelegramAdapter
) -> None:
    # The resident deleted their message before staff answered: the answer must arrive
    # anyway (palm sends allow_sending_without_reply; the fake refuses it otherwise).
    await adapter.send(out(42, "Fixed tomorrow", reply_to=PlatformMessageId("999")))
    [sent] = fake.sent_to(42)
    assert (sent.text, sent.reply_to) == ("Fixed tomorrow", None)


MB = 1024 * 1024


@pytest.mark.parametrize(
    ("size", "method"),
    [(10 * MB, "sendPhoto"), (10 * MB + 1, "sendDocument"), (20 * MB, "sendDocument")],
)
async def test_photo_over_10_mb_goes_as_a_document(
    fake: FakeTelegram, adapter: TelegramAdapter, size: int, method: str
) -> None:
    photo = OutboundAttachment(AttachmentKind.PHOTO, "plan.jpg", "image/jpeg", b"\xff" * size)
    receipt = await adapter.send(out(42, "Floor plan", attachments=(photo,)))
    [sent] = fake.sent_to(42)
    assert (sent.method, sent.file_name, sent.file_size) == (method, "plan.jpg", size)
    assert sent.caption == "Floor plan"
    assert receipt.message_ids == (str(sent.message_id),)


async def test_file_over_50_mb_is_rejected_before_any_request(
    fake: FakeTelegram, adapter: TelegramAdapter
) -> None:
    small = OutboundAttachment(AttachmentKind.PHOTO, "a.jpg", "image/jpeg", b"\xff" * 10)
    huge = OutboundAttachment(AttachmentKind.FILE, "video.bin", "video/mp4", b"\0" * (50 * MB + 1))
    with pytest.raises(gw.Rejected, match=r"video\.bin is 50\.0 MB"):
        await adapter.send(out(42, "Drill video", attachments=(small, huge)))
    assert fake.sent_to(42) == []  # not even the first, small step


async def test_long_announcement_is_split_and_each_part_rate_limited(
    fake: FakeTelegram, adapter: TelegramAdapter, redis: Redis, keys: Keys
) -> None:
    text = "\n\n".join(f"**part {i}** " + "w" * 1500 for i in range(6))
    receipt = await deliver(adapter, RateLimiter(redis, keys), out(-100777, text))
    sent = fake.sent_to(-100777)
    assert len(receipt.message_ids) == len(sent) == 3
    assert fake.violations == 0  # the adapter took a permit for parts 2 and 3
    assert all(len(m.text or "") <= 4096 for m in sent)


async def test_photo_with_long_caption_and_follow_up(
    fake: FakeTelegram, adapter: TelegramAdapter, redis: Redis, keys: Keys
) -> None:
    photo = OutboundAttachment(AttachmentKind.PHOTO, "tank.jpg", "image/jpeg", b"\xff\xd8jpeg")
    text = "Tank cleaning " + "z" * 1500
    receipt = await deliver(adapter, RateLimiter(redis, keys), out(42, text, attachments=(photo,)))
    first, second = fake.sent_to(42)
    assert (first.method, first.file_name) == ("sendPhoto", "tank.jpg")
    # One 1,514-character line: the caption is filled to Telegram's 1,024 and the rest
    # follows as a reply to the photo; nothing lost, nothing repeated.
    assert first.caption == text[:1024]
    assert (second.method, second.text) == ("sendMessage", text[1024:])
    assert second.reply_to == first.message_id
    assert fake.violations == 0
    assert receipt.message_ids == (str(first.message_id), str(second.message_id))


async def test_edit_in_place_and_recall(fake: FakeTelegram, adapter: TelegramAdapter) -> None:
    msg = out(42, "Tank cleaning Tue 9:00")
    receipt = await adapter.send(msg)
    fixed = OutboundMessage(msg.target, "Tank cleaning **Wed** 9:00", msg.idempotency_key)
    await adapter.edit(msg.target, receipt.message_ids, fixed)
    [sent] = fake.sent_to(42)
    assert sent.text == "Tank cleaning Wed 9:00"
    await adapter.edit(msg.target, receipt.message_ids, fixed)  # unchanged: not an error
    await adapter.recall(msg.target, receipt.message_ids, receipt.sent_at)
    assert sent.deleted
    await adapter.recall(msg.target, receipt.message_ids, receipt.sent_at)  # already gone


async def test_edit_caption_of_photo(fake: FakeTelegram, adapter: TelegramAdapter) -> None:
    photo = OutboundAttachment(AttachmentKind.PHOTO, "a.png", "image/png", b"png")
    msg = out(42, "old caption", attachments=(photo,))
    receipt = await adapter.send(msg)
    new = OutboundMessage(msg.target, "new caption", msg.idempotency_key, attachments=(photo,))
    await adapter.edit(msg.target, receipt.message_ids, new)
    assert fake.sent_to(42)[0].caption == "new caption"


async def test_recall_after_48h_is_not_possible(
    fake: FakeTelegram, adapter: TelegramAdapter
) -> None:
    receipt = await adapter.send(out(42, "wrong notice"))
    with pytest.raises(gw.NotPossible, match="48 hours"):
        await adapter.recall(receipt.target, receipt.message_ids, time.time() - 49 * 3600)
    # the fake aged the message but palm's record says it is recent: Telegram refuses
    fake.age_messages(49 * 3600)
    with pytest.raises(gw.NotPossible, match="can't be deleted"):
        await adapter.recall(receipt.target, receipt.message_ids, receipt.sent_at)
    assert not fake.sent_to(42)[0].deleted


@pytest.mark.parametrize(
    ("fault", "chat", "error", "reason"),
    [
        ("blocked", 42, gw.TargetGone, "bot was blocked by the user"),
        ("kicked", -100555, gw.TargetGone, "bot was kicked from the group chat"),
        ("chat_not_found", -100556, gw.TargetGone, "chat not found"),
    ],
)
async def test_permanent_failures(
    fake: FakeTelegram,
    adapter: TelegramAdapter,
    fault: str,
    chat: int,
    error: type[gw.TargetGone],
    reason: str,
) -> None:
    fake.fail(fault, chat_id=chat)
    with pytest.raises(error) as info:
        await adapter.send(out(chat, "hello"))
    assert info.value.reason == reason
    assert isinstance(info.value, gw.PermanentError)
    assert isinstance(info.value.__cause__, Exception)  # raised from the PTB error


async def test_migrated_group_gives_the_new_target(
    fake: FakeTelegram, adapter: TelegramAdapter
) -> None:
    fake.fail("migrated", chat_id=-555, migrate_to=-1009876543210)
    with pytest.raises(gw.ChatMigrated) as info:
        await adapter.send(out(-555, "notice"))
    assert info.value.new_target == "telegram:-1009876543210"
    receipt = await adapter.send(out(-1009876543210, "notice"))  # resent once, to the new id
    assert receipt.message_ids == ("1",)


async def test_connection_refused_is_network_error(
    fake: FakeTelegram, adapter: TelegramAdapter
) -> None:
    await fake.go_down()
    try:
        with pytest.raises(gw.NetworkError):
            await adapter.send(out(42, "hello"))
    finally:
        await fake.go_up()
    assert fake.sent_to(42) == []


@pytest.mark.parametrize(("fault", "recorded"), [("reset_before", 0), ("reset_after", 1)])
async def test_reset_after_sending_is_ambiguous_and_counted(
    fake: FakeTelegram, adapter: TelegramAdapter, fault: str, recorded: int
) -> None:
    # Once the request is written, the client cannot tell whether Telegram processed it.
    fake.fail(fault, chat_id=42, times=1)
    before = ambiguous_count()
    with pytest.raises(gw.AmbiguousSend):
        await adapter.send(out(42, "hello"))
    assert ambiguous_count() == before + 1
    assert len(fake.sent_to(42)) == recorded


async def test_ambiguous_policy_fail(fake: FakeTelegram, redis: Redis, keys: Keys) -> None:
    adapter = TelegramAdapter(make_config(fake, ambiguous_policy="fail"), GatewayConfig())
    await adapter.start(make_ctx(redis, keys))
    fake.fail("reset_after", chat_id=42, times=1)
    try:
        with pytest.raises(gw.Rejected, match="ambiguous_policy: fail"):
            await adapter.send(out(42, "hello"))
    finally:
        await adapter.aclose()


async def test_forced_429_names_the_chat_scope(
    fake: FakeTelegram, adapter: TelegramAdapter
) -> None:
    fake.fail("retry_after", chat_id=42, times=1, retry_after=3)
    with pytest.raises(gw.RateLimited) as info:
        await adapter.send(out(42, "hello"))
    assert info.value.retry_after == 3
    assert info.value.scope == f"telegram:{fake.bot.bot_id}:chat:42"


async def test_bad_token_is_a_config_error_without_the_token(
    fake: FakeTelegram, redis: Redis, keys: Keys
) -> None:
    config = make_config(fake, token=SecretStr("999:not-a-registered-token"))
    adapter = TelegramAdapter(config, GatewayConfig())
    with pytest.raises(gw.ConfigError) as info:
        await adapter.start(make_ctx(redis, keys))
    await adapter.aclose()
    assert "token rejected" in str(info.value)
    assert "not-a-registered-token" not in str(info.value)


async def test_token_never_in_repr_or_logs(
    fake: FakeTelegram, redis: Redis, keys: Keys, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    adapter = TelegramAdapter(make_config(fake), GatewayConfig())
    await adapter.start(make_ctx(redis, keys))
    try:
        await adapter.send(out(42, "hello"))
        assert await adapter.check_ready() is None
        secret = fake.token.partition(":")[2]
        assert secret not in repr(adapter)
        # The aiohttp transport logs no URLs itself; a library that does (aiohttp's
        # client logger, httpx when used) is redacted while the adapter runs.
        url = f"{fake.base_url}{fake.token}/sendMessage"
        logging.getLogger("aiohttp.client").debug("POST %s", url)
        logged = [r.getMessage() for r in caplog.records]
        assert any("/sendMessage" in line for line in logged)  # the URL was logged...
        assert not any(secret in line for line in logged)  # ...without the token
    finally:
        await adapter.aclose()
