"""The fake Bot API refuses what the Bot API documentation says Telegram refuses.

A table for the HTML parse mode and the lengths (``tg_rules``), then the same rules
over real HTTP through python-telegram-bot, as palm meets them.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
import telegram
from telegram import InputFile, ReplyParameters
from telegram.constants import ParseMode

from tests.fakes import tg_rules
from tests.fakes.telegram_api import FakeTelegram
from tests.fakes.tg_rules import RuleError, parse_html, utf16_len

PARSE = "Bad Request: can't parse entities: "


@pytest.mark.parametrize(
    ("raw", "visible"),
    [
        ("plain", "plain"),
        ("&lt;b&gt; &amp; &quot;x&quot;", '<b> & "x"'),
        ("&#60;&#x3E;&#X1F600;", "<>😀"),
        ("<b>bold <i>both</i></b>", "bold both"),
        ('<a href="https://x.org/?a=1&amp;b=2">link</a>', "link"),
        ("<a href='https://x.org'>single quotes</a>", "single quotes"),
        ('<span class="tg-spoiler">s</span><tg-spoiler>t</tg-spoiler>', "st"),
        ("<blockquote expandable>q</blockquote>", "q"),
        ('<pre><code class="language-py">x = 1</code></pre>', "x = 1"),
        ("<B>upper</B>", "upper"),
        ("电梯 😀 ok", "电梯 😀 ok"),
    ],
)
def test_valid_markup_gives_the_visible_text(raw: str, visible: str) -> None:
    assert parse_html(raw) == visible


@pytest.mark.parametrize(
    ("raw", "description"),
    [
        ("Tom & Jerry", "Character '&' at byte offset 4 is not a part of an entity; use &amp;"),
        ("&copy; 2026", "Character '&' at byte offset 0 is not a part of an entity; use &amp;"),
        ("&amp", "Character '&' at byte offset 0 is not a part of an entity; use &amp;"),
        ("电&", "Character '&' at byte offset 3 is not a part of an entity; use &amp;"),
        ("a > b", "Character '>' at byte offset 2 must be escaped"),
        ("<p>para</p>", 'Unsupported start tag "p" at byte offset 0'),
        ("x <script>", 'Unsupported start tag "script" at byte offset 2'),
        ("a <3", 'Unsupported start tag "3" at byte offset 2'),
        ("<br/>", 'Unsupported start tag "br" at byte offset 0'),
        ("<a>no href</a>", 'Tag "a" must have attribute "href" at byte offset 0'),
        ('<a href="">empty</a>', 'Tag "a" must have attribute "href" at byte offset 0'),
        ("<span>s</span>", 'Tag "span" must have class "tg-spoiler" at byte offset 0'),
        ("<b>open", 'Can\'t find end tag corresponding to start tag "b"'),
        ("closed</b>", "Unexpected end tag at byte offset 6"),
        ("<b><i>x</b></i>", 'Unmatched end tag at byte offset 7, expected "</i>", found "</b>"'),
        ("<b", "Unclosed start tag at byte offset 0"),
        ('<a href="x>y', "Unclosed start tag at byte offset 0"),
        ("<b>x</b", "Unclosed end tag at byte offset 4"),
        ('<a href="?a&b">x</a>', "Unescaped '&' in an attribute value in the tag \"a\""),
        ("&#xD800;", "Invalid character entity at byte offset 0"),
    ],
)
def test_bad_markup_gets_the_servers_400(raw: str, description: str) -> None:
    with pytest.raises(RuleError) as info:
        parse_html(raw)
    assert (info.value.code, info.value.description) == (400, PARSE + description)


def test_lengths_are_utf16_units_after_parsing() -> None:
    assert utf16_len("😀") == 2
    assert utf16_len("电") == 1
    assert tg_rules.check_text("😀" * 2048, None) == "😀" * 2048  # 4096 units
    with pytest.raises(RuleError, match="message is too long"):
        tg_rules.check_text("😀" * 2048 + "x", None)  # 2049 characters, 4097 units
    # markup does not count, entities count once
    assert tg_rules.check_text("<b>" + "&amp;" * 4096 + "</b>", "HTML") == "&" * 4096
    with pytest.raises(RuleError, match="caption is too long"):
        tg_rules.check_caption("😀" * 513, "HTML")
    assert tg_rules.check_caption("😀" * 512, "HTML") == "😀" * 512
    with pytest.raises(RuleError, match="message text is empty"):
        tg_rules.check_text("<b> </b>", "HTML")


def test_media_sizes() -> None:
    mb = 1024 * 1024
    tg_rules.check_media_size("sendPhoto", 10 * mb)
    with pytest.raises(RuleError, match="PHOTO_SAVE_FILE_INVALID"):
        tg_rules.check_media_size("sendPhoto", 10 * mb + 1)
    tg_rules.check_media_size("sendDocument", 50 * mb)
    with pytest.raises(RuleError) as info:
        tg_rules.check_media_size("sendDocument", 50 * mb + 1)
    assert (info.value.code, info.value.description) == (413, "Request Entity Too Large")


# --- over HTTP, through python-telegram-bot ----------------------------------------------


@pytest.fixture
async def fake() -> AsyncIterator[FakeTelegram]:
    server = FakeTelegram(enforce_limits=False)  # these tests send several per second
    await server.start()
    try:
        yield server
    finally:
        await server.aclose()


@pytest.fixture
async def bot(fake: FakeTelegram) -> telegram.Bot:
    b = telegram.Bot(fake.token, base_url=fake.base_url)
    await b.initialize()
    return b


async def test_bad_html_is_a_bad_request_and_nothing_is_sent(
    fake: FakeTelegram, bot: telegram.Bot
) -> None:
    with pytest.raises(telegram.error.BadRequest, match=r"(?i)unsupported start tag"):
        await bot.send_message(42, "<p>hi</p>", parse_mode=ParseMode.HTML)
    with pytest.raises(telegram.error.BadRequest, match=r"(?i)not a part of an entity"):
        await bot.send_photo(
            42, InputFile(b"png", filename="a.png"), caption="R&D", parse_mode="HTML"
        )
    # the same text without a parse mode is literal
    await bot.send_message(42, "R&D <p>")
    assert [m.text for m in fake.sent_to(42)] == ["R&D <p>"]


async def test_reply_to_a_missing_message(fake: FakeTelegram, bot: telegram.Bot) -> None:
    resident = fake.private_message(42, "help")["message"]["message_id"]
    m = await bot.send_message(42, "to the resident", reply_parameters=ReplyParameters(resident))
    assert m.reply_to_message is None or m.reply_to_message.message_id == resident
    assert fake.sent_to(42)[-1].reply_to == resident
    with pytest.raises(telegram.error.BadRequest, match=r"(?i)message to be replied not found"):
        await bot.send_message(42, "to nothing", reply_parameters=ReplyParameters(999))
    # allowed: sent, as a plain message
    await bot.send_message(
        42, "allowed", reply_parameters=ReplyParameters(999, allow_sending_without_reply=True)
    )
    assert fake.sent_to(42)[-1].reply_to is None
    # a deleted message is missing too
    await bot.delete_message(42, m.message_id)
    with pytest.raises(telegram.error.BadRequest, match=r"(?i)message to be replied not found"):
        await bot.send_message(
            42, "to a deleted one", reply_parameters=ReplyParameters(m.message_id)
        )
    assert [x.text for x in fake.sent_to(42)] == ["to the resident", "allowed"]


async def test_legacy_allow_sending_without_reply_field(
    fake: FakeTelegram, bot: telegram.Bot
) -> None:
    await bot.do_api_request(
        "sendMessage",
        api_kwargs={"chat_id": 42, "text": "legacy", "reply_to_message_id": 999,
                    "allow_sending_without_reply": True},
    )  # fmt: skip
    with pytest.raises(telegram.error.BadRequest, match=r"(?i)message to be replied not found"):
        await bot.do_api_request(
            "sendMessage", api_kwargs={"chat_id": 42, "text": "no", "reply_to_message_id": 999}
        )
    assert [m.text for m in fake.sent_to(42)] == ["legacy"]


async def test_oversized_uploads_are_refused(fake: FakeTelegram, bot: telegram.Bot) -> None:
    big = b"\0" * (10 * 1024 * 1024 + 1)
    with pytest.raises(telegram.error.BadRequest, match=r"(?i)photo_save_file_invalid"):
        await bot.send_photo(42, InputFile(big, filename="big.jpg"))
    await bot.send_document(42, InputFile(big, filename="big.jpg"))
    [doc] = fake.sent_to(42)
    assert (doc.method, doc.file_size) == ("sendDocument", len(big))
