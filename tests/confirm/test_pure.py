"""Confirmation words, Matrix reactions, mentions as each platform renders them, and
the once-an-hour reminder claim (real Redis)."""

from __future__ import annotations

import pytest
from redis.asyncio import Redis

from adapters.matrix.normalize import room_events
from adapters.matrix.reactions import reaction_key
from adapters.matrix.render import text_content
from adapters.matrix.rooms import Me, RoomInfo
from adapters.telegram.steps import plan
from gateway.codec import decode_event, encode_event
from gateway.confirm.config import ConfirmConfig
from gateway.confirm.store import ConfirmStore
from gateway.keys import Keys
from gateway.models import (
    ButtonPress,
    Mention,
    OutboundMessage,
    TargetId,
    UserId,
)


@pytest.mark.parametrize(
    ("text", "confirms"),
    [("收到", True), (" 收到!", True), ("已阅。", True), ("OK", True), ("ok.", True),
     ("1", True), ("收到了吗", False), ("okay", False), ("11", False), ("", False)],
)  # fmt: skip
def test_default_words(text: str, confirms: bool) -> None:
    assert ConfirmConfig().confirms(text) is confirms


def test_words_are_configurable() -> None:
    cfg = ConfirmConfig(words={"zh": ["知道了"]})
    assert cfg.confirms("知道了")
    assert not cfg.confirms("收到")
    with pytest.raises(ValueError, match="empty"):
        ConfirmConfig(words={"en": [" "]})


def _reaction(key: str, sender: str = "@li:hs", rel: str = "m.annotation") -> dict[str, object]:
    return {
        "type": "m.reaction", "sender": sender, "event_id": "$r1", "origin_server_ts": 1000,
        "content": {"m.relates_to": {"rel_type": rel, "event_id": "$notice", "key": key}},
    }  # fmt: skip


def test_matrix_reaction_becomes_a_press() -> None:
    me = Me("@palm:hs", "Palm")
    events, _ = room_events("!r:hs", [_reaction("✅\ufe0f")], me, RoomInfo(), {"@li:hs": "Li"})
    (press,) = events
    assert isinstance(press, ButtonPress)
    assert (press.target, press.message_id, press.data, press.query_id) == (
        "matrix:!r:hs", "$notice", "react:✅", "")  # fmt: skip
    assert press.sender.display_name == "Li"
    assert decode_event(encode_event(press)) == press
    # The bot's own reaction and other relations are not presses.
    assert room_events("!r:hs", [_reaction("✅", "@palm:hs")], me, RoomInfo())[0] == []
    assert room_events("!r:hs", [_reaction("✅", rel="m.reference")], me, RoomInfo())[0] == []
    assert reaction_key("👍🏽") == "👍🏽"


def _msg(target: str, mentions: tuple[Mention, ...]) -> OutboundMessage:
    return OutboundMessage(TargetId(target), "Please confirm", "k", plain=True,
                           mentions=mentions)  # fmt: skip


def test_mentions_on_matrix() -> None:
    c = text_content(_msg("matrix:!r:hs", (Mention(UserId("@a:hs"), "A <b>"),)))
    assert c["m.mentions"] == {"user_ids": ["@a:hs"]}
    assert c["body"] == "Please confirm\nA <b>"
    assert c["formatted_body"].endswith('<br><a href="https://matrix.to/#/@a:hs">A &lt;b&gt;</a>')


def test_mentions_on_telegram() -> None:
    people = (Mention(UserId("42"), "Li & Co"), Mention(UserId("43"), "Wang"))
    (step,) = plan(_msg("telegram:-1001", people))
    assert step.html is not None
    assert step.html.endswith(
        '\n<a href="tg://user?id=42">Li &amp; Co</a>, <a href="tg://user?id=43">Wang</a>'
    )


async def test_reminder_claim_once_per_interval(redis: Redis, keys: Keys) -> None:
    store = ConfirmStore(redis, keys)
    assert await store.claim_reminder("A-1", "telegram:-1", 3600, 1000.0) == 0.0
    assert await store.claim_reminder("A-1", "telegram:-1", 3600, 1500.0) == 4600.0
    assert await store.claim_reminder("A-1", "telegram:-2", 3600, 1500.0) == 0.0
    assert await store.claim_reminder("A-2", "telegram:-1", 0, 1500.0) == 0.0
