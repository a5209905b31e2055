"""The pure parts: config, scope, card texts, the /announce split, and what the
adapters' normalisers make of buttons, threads and staff commands."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from adapters.matrix.messages import message_event
from adapters.matrix.rooms import Me, RoomInfo
from adapters.telegram.normalize import BotIdentity, normalize
from gateway.config_load import load_config
from gateway.errors import ConfigError, InputError
from gateway.models import ButtonPress, Command, InboundMessage
from gateway.staffroom import cards
from gateway.staffroom.commands import split_announce
from gateway.staffroom.feed import entry_version
from gateway.staffroom.scope import check_scopes, permits


def _view(**kw: object) -> cards.CardView:
    h = {
        "id": "T-51", "status": "new", "priority": "urgent", "category": "elevator",
        "resident_name": "Ms Chen", "platform": "telegram", "chat_kind": "direct",
        "text": "5号楼电梯困人了!", "received_at": "1000", "resolved_at": "", "assignee": "",
    }  # fmt: skip
    h.update({k: str(v) for k, v in kw.items()})
    return cards.CardView.from_hash(h, attachments=2)


def test_card_text_and_buttons_follow_the_ticket() -> None:
    new = _view()
    assert cards.card_text(new, "en").splitlines()[:4] == [
        "T-51 · urgent · elevator",
        "From: Ms Chen (telegram, direct chat)",
        "“5号楼电梯困人了!”",
        "📎 2 attachments",
    ]
    assert [b.data for b in cards.card_buttons(new, "en")] == ["claim", "resolve"]
    claimed = _view(status="claimed", assignee="Li")
    assert cards.status_line(claimed, "en") == "🔧 being handled by Li"
    assert [b.label for b in cards.card_buttons(claimed, "zh")] == ["解决"]
    answered = cards.CardView.from_hash(
        {"id": "T-1", "status": "claimed", "assignee": "Li", "first_response_at": "1800"},
        answered_by="Li",
    )
    at = time.strftime("%H:%M", time.localtime(1800))
    assert cards.status_line(answered, "en") == f"💬 answered by Li at {at}"
    done = _view(status="resolved", resolved_by="Li", resolved_at="6400", note="rescued")
    assert cards.status_line(done, "en") == "✅ resolved by Li after 1 h 30 min\nnote: rescued"
    assert cards.card_buttons(done, "en") == ()


def test_card_speaks_the_rooms_language_not_palms_codes() -> None:
    zh = cards.card_text(_view(category="fire-safety"), "zh").splitlines()
    assert zh[:2] == ["T-51 · 紧急 · 消防安全", "来自：Ms Chen（telegram，私聊）"]
    en = cards.card_text(_view(category="fire-safety", priority="normal"), "en")
    assert en.splitlines()[0] == "T-51 · normal · fire safety"
    untitled = cards.card_text(_view(chat_kind="group"), "zh").splitlines()[1]
    assert untitled == "来自：Ms Chen（telegram，群聊）"
    titled = cards.card_text(_view(chat_kind="group", chat_title="5号楼业主群"), "zh")
    assert titled.splitlines()[1] == "来自：Ms Chen（telegram，5号楼业主群）"


def test_took() -> None:
    assert cards.took(5400, "en") == "1 h 30 min"
    assert cards.took(5400, "zh") == "1 小时 30 分钟"
    assert cards.took(3600, "en") == "1 h"
    assert cards.took(10, "en") == "1 min"


def test_group_status_only_after_the_ticket_moved() -> None:
    ack = "Received: ticket T-51."
    assert cards.group_status_text(ack, _view(), "en") is None
    moved = cards.group_status_text(ack, _view(status="claimed", assignee="Li"), "en")
    assert moved == "Received: ticket T-51.\nStatus: being handled by Li"


def test_scope_is_an_audience_expression_on_the_ticket_chat() -> None:
    assert permits(None, [], group=False)
    assert permits("compound:guanmei", ["compound:guanmei"], group=True)
    assert not permits("compound:guanmei", ["compound:other"], group=True)
    assert permits("*", [], group=True)
    assert not permits("*", [], group=False)  # * means groups
    assert permits("!building:5", ["building:6"], group=True)


def test_announce_split_at_the_last_bar_with_a_valid_expression() -> None:
    assert split_announce("building:5 | Water off") == ("building:5", "Water off")
    assert split_announce("building:5 | building:6 | Water off") == (
        "building:5 | building:6", "Water off",
    )  # fmt: skip
    with pytest.raises(InputError):
        split_announce("no bar here")
    with pytest.raises(InputError):
        split_announce("building:5 |   ")


def test_entry_versions_grow_with_the_stream() -> None:
    assert entry_version("1700000000000-0") < entry_version("1700000000000-1")
    assert entry_version("1700000000000-99") < entry_version("1700000000001-0")


def test_config_checks_the_rooms(tmp_path: Path) -> None:
    path = tmp_path / "palm.yaml"
    path.write_text("staff_rooms:\n  - {target: 'matrix:!s:x', scope: 'compound:a'}\n")
    assert load_config(path).staff_rooms[0].scope == "compound:a"
    path.write_text("staff_rooms:\n  - {target: 'telegram:abc'}\n")
    with pytest.raises(ConfigError, match=r"staff_rooms\[0\]\.target: expected telegram"):
        load_config(path)
    path.write_text("staff_rooms:\n  - {target: 'telegram:-1', scope: 'a & '}\n")
    with pytest.raises(ConfigError, match=r"staff_rooms\[0\]\.scope: scope: expected a tag"):
        check_scopes(load_config(path).staff_rooms)


ME = BotIdentity(42, "palm_bot")


def test_telegram_callback_query_becomes_a_button_press() -> None:
    update = {
        "update_id": 7,
        "callback_query": {
            "id": "q1", "from": {"id": 9, "is_bot": False, "first_name": "Li"},
            "chat_instance": "c", "data": "claim",
            "message": {"message_id": 3, "date": 1, "chat": {"id": -100, "type": "supergroup"}},
        },
    }  # fmt: skip
    (press,) = normalize(update, ME)
    assert isinstance(press, ButtonPress)
    assert (press.target, press.message_id, press.data, press.query_id) == (
        "telegram:-100", "3", "claim", "q1",
    )  # fmt: skip
    assert press.sender.display_name == "Li"
    assert press.dedupe_key == "u7"
    no_message = {"update_id": 8, "callback_query": {**update["callback_query"], "message": None}}
    assert normalize(no_message, ME) == []


def test_telegram_staff_commands_pass_the_group_filter() -> None:
    msg = {
        "message_id": 5, "date": 1, "chat": {"id": -100, "type": "group"},
        "from": {"id": 9, "is_bot": False, "first_name": "Li"}, "text": "/resolve@palm_bot fixed",
        "entities": [{"type": "bot_command", "offset": 0, "length": 17}],
    }  # fmt: skip
    (event,) = normalize({"update_id": 1, "message": msg}, ME)
    assert isinstance(event, InboundMessage)
    assert (event.command, event.text) == (Command.RESOLVE, "fixed")


def test_matrix_thread_and_bang_commands() -> None:
    me = Me("@palm:x", "palm")
    ev = {
        "type": "m.room.message", "sender": "@li:x", "event_id": "$e", "origin_server_ts": 1000,
        "content": {
            "msgtype": "m.text", "body": "!resolve rescued",
            "m.relates_to": {
                "rel_type": "m.thread", "event_id": "$card", "is_falling_back": True,
                "m.in_reply_to": {"event_id": "$last"},
            },
        },
    }  # fmt: skip
    msg = message_event("!r:x", ev, me, RoomInfo(), {"@li:x": "Li Wei"})
    assert msg is not None
    assert (msg.reply_to, msg.command, msg.text) == ("$card", Command.RESOLVE, "rescued")
    assert msg.sender.display_name == "Li Wei"
