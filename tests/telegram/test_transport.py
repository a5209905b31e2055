"""``AiohttpRequest`` (PTB's transport on aiohttp) against the fake Bot API server.

The point of these tests is the one distinction ``adapters.telegram.errors`` makes:
a request that never left (connect refused, no free pooled connection) is a plain
``NetworkError`` and safe to resend; one that was written and got no answer is an
``AmbiguousSend``.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
import telegram.error as tg
from telegram import Bot, InputFile, ReplyParameters

from adapters.telegram.errors import translate
from adapters.telegram.transport import AiohttpRequest
from gateway import errors as gw
from tests.fakes.telegram_api import FakeTelegram


def make_bot(fake: FakeTelegram, request: AiohttpRequest) -> Bot:
    return Bot(fake.token, base_url=fake.base_url, request=request, get_updates_request=request)


@pytest.fixture
async def bot(fake: FakeTelegram) -> AsyncIterator[Bot]:
    b = make_bot(fake, AiohttpRequest(connection_pool_size=4, read_timeout=5.0))
    await b.initialize()
    try:
        yield b
    finally:
        await b.shutdown()


async def test_send_message_with_form_fields_and_nested_json(fake: FakeTelegram, bot: Bot) -> None:
    first = await bot.send_message(42, "<b>héllo</b> &amp; 楼道", parse_mode="HTML")
    # reply_parameters is a nested object: JSON inside a form field, as PTB's own transport
    fake.enforce_limits = False  # two messages to one chat within a second
    second = await bot.send_message(42, "re", reply_parameters=ReplyParameters(first.message_id))
    assert (first.message_id, second.message_id) == (1, 2)
    sent = fake.sent_to(42)
    assert [m.raw for m in sent][:1] == ["<b>héllo</b> &amp; 楼道"]
    assert [m.text for m in sent] == ["héllo & 楼道", "re"]
    assert sent[1].reply_to == 1


async def test_multipart_upload_keeps_bytes_and_caption(fake: FakeTelegram, bot: Bot) -> None:
    data = bytes(range(256)) * 40
    await bot.send_document(42, InputFile(data, filename="plan.pdf"), caption="the plan")
    [m] = fake.sent_to(42)
    assert (m.caption, m.file_name, m.file_size) == ("the plan", "plan.pdf", len(data))


async def test_refused_connection_is_not_sent(fake: FakeTelegram, bot: Bot) -> None:
    await fake.go_down()
    try:
        with pytest.raises(tg.NetworkError) as info:
            await bot.send_message(42, "hello")
    finally:
        await fake.go_up()
    err = translate(info.value, is_send=True)
    assert type(err) is gw.NetworkError  # not AmbiguousSend: nothing was written


async def test_no_free_connection_is_a_pool_timeout_not_sent(fake: FakeTelegram) -> None:
    b = make_bot(fake, AiohttpRequest(connection_pool_size=1, pool_timeout=0.2, read_timeout=5))
    await b.initialize()
    try:
        fake.fail("latency", chat_id=1, delay=1.0, times=1)
        holder = asyncio.create_task(b.send_message(1, "holds the only connection"))
        await asyncio.sleep(0.2)
        with pytest.raises(tg.TimedOut) as info:
            await b.send_message(2, "waits for a connection")
        await holder
    finally:
        await b.shutdown()
    assert "Pool timeout" in info.value.message
    assert type(translate(info.value, is_send=True)) is gw.NetworkError
    assert fake.sent_to(2) == []


async def test_read_timeout_after_writing_is_ambiguous(fake: FakeTelegram) -> None:
    b = make_bot(fake, AiohttpRequest(read_timeout=0.3))
    await b.initialize()
    try:
        fake.fail("latency", chat_id=42, delay=1.0, times=1)
        with pytest.raises(tg.TimedOut) as info:
            await b.send_message(42, "slow")
    finally:
        await b.shutdown()
    assert isinstance(translate(info.value, is_send=True), gw.AmbiguousSend)


async def test_error_messages_never_hold_the_token(fake: FakeTelegram) -> None:
    b = make_bot(fake, AiohttpRequest(connection_pool_size=1, pool_timeout=0.2, read_timeout=5))
    await b.initialize()
    secret = fake.token.partition(":")[2]
    try:
        fake.fail("latency", chat_id=1, delay=1.0, times=1)
        holder = asyncio.create_task(b.send_message(1, "x"))
        await asyncio.sleep(0.2)
        with pytest.raises(tg.TimedOut) as info:
            await b.send_message(2, "y")
        await holder
    finally:
        await b.shutdown()
    chain = [info.value, info.value.__cause__]
    assert all(secret not in str(e) for e in chain)


async def test_use_before_initialize_is_refused(fake: FakeTelegram) -> None:
    request = AiohttpRequest()
    with pytest.raises(RuntimeError, match="before initialize"):
        await request.do_request(fake.base_url + fake.token + "/getMe", "POST")
