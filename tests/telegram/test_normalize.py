"""The pure normalizer: one test per update shape, and arbitrary JSON never raises."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from adapters.telegram.normalize import BotIdentity, normalize
from gateway.models import (
    AttachmentKind,
    ChatKind,
    Command,
    InboundMessage,
    TargetGone,
    TargetMigrated,
    TargetSeen,
)
from tests.fakes.telegram_api import FakeTelegram

ME = BotIdentity(123456789, "palm_test_bot")
GROUP = -1001234567890


def one(update: dict[str, Any]) -> InboundMessage:
    events = normalize(update, ME)
    assert len(events) == 1
    msg = events[0]
    assert isinstance(msg, InboundMessage)
    return msg


def fake() -> FakeTelegram:
    return FakeTelegram()  # only its update builders are used: no server


def test_private_message_keeps_sender_and_language() -> None:
    f = fake()
    msg = one(f.private_message(42, "the lift is stuck", sender=f.user(42, "zh-hans")))
    assert msg.target == "telegram:42"
    assert msg.chat_kind is ChatKind.DIRECT
    assert msg.text == "the lift is stuck"
    assert msg.sender.user_id == "42"
    assert msg.sender.language == "zh-hans"
    assert msg.dedupe_key == "u1"
    assert msg.command is None


def test_group_report_with_botname_suffix() -> None:
    f = fake()
    msg = one(f.group_message(GROUP, "/report@palm_test_bot the fire hydrant by building 5"))
    assert msg.command is Command.REPORT
    assert msg.text == "the fire hydrant by building 5"
    assert msg.chat_kind is ChatKind.GROUP
    assert msg.target == f"telegram:{GROUP}"


def test_chinese_report_is_plain_text_command() -> None:
    f = fake()
    upd = f.group_message(GROUP, "/报修 消防栓漏水")
    assert "entities" not in upd["message"]  # Telegram does not mark it as a command
    msg = one(upd)
    assert msg.command is Command.REPORT
    assert msg.text == "消防栓漏水"


def test_commands_for_other_bots_and_unknown_commands() -> None:
    f = fake()
    assert normalize(f.group_message(GROUP, "/report@other_bot hi"), ME) == []
    private = one(f.private_message(5, "/weather today"))
    assert private.command is None
    assert private.text == "/weather today"
    for name, cmd in (("/ask", Command.ASK), ("/start", Command.START), ("/help", Command.HELP)):
        assert one(f.private_message(5, name)).command is cmd


def test_group_chatter_is_dropped_but_mentions_and_replies_are_kept() -> None:
    f = fake()
    assert normalize(f.group_message(GROUP, "nice weather"), ME) == []
    text = "💧 hey @Palm_Test_Bot the tank"
    off = len("💧 hey ".encode("utf-16-le")) // 2  # entity offsets count UTF-16 units
    mention = f.group_message(
        GROUP, text, entities=[{"type": "mention", "offset": off, "length": 14}]
    )
    assert one(mention).mentions_bot
    tm = f.group_message(
        GROUP,
        "Palm please",
        entities=[{"type": "text_mention", "offset": 0, "length": 4, "user": {"id": ME.id}}],
    )
    assert one(tm).mentions_bot
    reply = one(f.group_message(GROUP, "when is the water back?", reply_to=77))
    assert reply.reply_to == "77"
    assert not reply.mentions_bot


def test_edited_message_sets_edit_of() -> None:
    f = fake()
    msg = one(f.edited(42, 9, "corrected text"))
    assert msg.edit_of == "9"
    assert msg.message_id == "9"


def test_photo_takes_largest_size_and_caption() -> None:
    f = fake()
    msg = one(f.photo(42, caption="broken pipe"))
    assert msg.text == "broken pipe"
    assert [(a.kind, a.ref) for a in msg.attachments] == [(AttachmentKind.PHOTO, "ph-small-2")]


def test_document_voice_location_and_venue() -> None:
    f = fake()
    doc = one(f.document(42, "bill.pdf")).attachments[0]
    assert (doc.kind, doc.name, doc.mime) == (AttachmentKind.FILE, "bill.pdf", "application/pdf")
    voice = one(f.enqueue({"message": f.message(42, None, voice={"file_id": "v1"})}))
    assert voice.attachments[0].kind is AttachmentKind.VOICE
    loc = one(f.location(42, 31.2, 121.5)).location
    assert loc is not None
    assert (loc.latitude, loc.longitude) == (31.2, 121.5)
    venue = {"location": {"latitude": 1.5, "longitude": 2.5}, "title": "Gate 3", "address": "x"}
    upd = f.enqueue({"message": f.message(42, None, venue=venue, location=venue["location"])})
    v = one(upd).location
    assert v is not None
    assert v.title == "Gate 3"


def test_my_chat_member_added_kicked_blocked() -> None:
    f = fake()
    assert normalize(f.member_update(GROUP, "member", "left"), ME) == [
        TargetSeen(f"telegram:{GROUP}", ChatKind.GROUP, f"Group {GROUP}")  # type: ignore[arg-type]
    ]
    kicked = normalize(f.member_update(GROUP, "kicked", "member"), ME)
    assert kicked == [TargetGone(f"telegram:{GROUP}", "bot was kicked")]  # type: ignore[arg-type]
    blocked = normalize(f.member_update(42, "kicked", "member"), ME)
    assert blocked == [TargetGone("telegram:42", "bot was blocked by the user")]  # type: ignore[arg-type]


def test_migration_both_directions() -> None:
    f = fake()
    assert normalize(f.migrate(-555, -100555), ME) == [
        TargetMigrated("telegram:-555", "telegram:-100555")  # type: ignore[arg-type]
    ]
    upd = f.enqueue({"message": f.message(-100555, None, migrate_from_chat_id=-555)})
    assert normalize(upd, ME) == [
        TargetMigrated("telegram:-555", "telegram:-100555")  # type: ignore[arg-type]
    ]


def test_unknown_updates_are_skipped() -> None:
    assert normalize({"update_id": 5, "callback_query": {"id": "1"}}, ME) == []
    assert normalize({"update_id": 6, "message": {"chat": "nope"}}, ME) == []
    assert normalize([1, 2], ME) == []
    assert normalize({"update_id": True, "message": {}}, ME) == []


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(
            st.sampled_from(
                [
                    "update_id",
                    "message",
                    "edited_message",
                    "my_chat_member",
                    "chat",
                    "id",
                    "type",
                    "text",
                    "from",
                    "entities",
                    "photo",
                    "document",
                    "location",
                    "venue",
                    "date",
                    "message_id",
                    "reply_to_message",
                    "new_chat_member",
                    "status",
                    "offset",
                    "length",
                    "migrate_to_chat_id",
                    "caption",
                    "file_id",
                    "latitude",
                    "longitude",
                    "user",
                ]
            )
            | st.text(max_size=8),
            children,
            max_size=6,
        )
    ),
    max_leaves=30,
)


@settings(max_examples=400, deadline=None)
@given(json_values)
def test_arbitrary_json_never_raises(value: Any) -> None:
    events = normalize(value, ME)
    assert isinstance(events, list)


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=60), st.sampled_from(["private", "group", "supergroup"]))
def test_any_text_in_a_well_formed_message(text: str, kind: str) -> None:
    chat_id = 7 if kind == "private" else -7
    upd = {
        "update_id": 1,
        "message": {
            "message_id": 1,
            "date": 0,
            "text": text,
            "chat": {"id": chat_id, "type": kind},
            "from": {"id": 3, "first_name": "A"},
        },
    }
    events = normalize(upd, ME)
    if kind == "private" and text:
        assert len(events) == 1


def test_parked_card_commands_parse() -> None:
    from adapters.telegram.normalize import _command

    assert _command("/handled", ME) == (Command.HANDLED, "")
    assert _command("/retry@palm_test_bot", ME) == (Command.RETRY, "")
    assert _command("/retry@other_bot", ME) == (None, "/retry@other_bot")
