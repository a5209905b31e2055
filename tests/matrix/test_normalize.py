"""The pure normaliser: sync JSON -> core events. No server needed."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from nio.crypto.attachments import encrypt_attachment

from adapters.matrix.media import open_file, split_ref
from adapters.matrix.messages import strip_reply_fallback
from adapters.matrix.normalize import normalize_sync, room_events
from adapters.matrix.rooms import ENCRYPTED_REASON, Me, RoomInfo, invite_allowed
from gateway.errors import NotPossible
from gateway.metrics import INBOUND_MALFORMED
from gateway.models import (
    AttachmentKind,
    ChatKind,
    Command,
    InboundMessage,
    TargetGone,
    TargetSeen,
)

ME = Me("@palm:example.org", "Palm Bot")
ROOM = "!r:example.org"
GROUP = RoomInfo(title="Building 5", members=12)


def msg(content: dict[str, Any], sender: str = "@alice:example.org", eid: str = "$e1") -> Any:
    return {
        "type": "m.room.message",
        "sender": sender,
        "event_id": eid,
        "origin_server_ts": 1_700_000_000_000,
        "content": content,
    }


def one(ev: dict[str, Any], info: RoomInfo = GROUP) -> InboundMessage:
    out, _ = room_events(ROOM, [ev], ME, info)
    assert len(out) == 1
    assert isinstance(out[0], InboundMessage)
    return out[0]


def test_text_reply_mention_and_fallback_stripped() -> None:
    m = one(
        msg(
            {
                "msgtype": "m.text",
                "body": "> <@palm:example.org> Tank cleaning\n\nis it all day, Palm Bot?",
                "m.relates_to": {"m.in_reply_to": {"event_id": "$ann"}},
            }
        )
    )
    assert m.text == "is it all day, Palm Bot?"
    assert m.reply_to == "$ann"
    assert m.mentions_bot
    assert m.chat_kind is ChatKind.GROUP
    assert m.chat_title == "Building 5"
    assert m.target == f"matrix:{ROOM}"
    assert m.dedupe_key == "$e1"
    assert m.sent_at == 1_700_000_000.0


def test_mentions_by_m_mentions_and_commands() -> None:
    m = one(msg({"msgtype": "m.text", "body": "hi", "m.mentions": {"user_ids": [ME.user_id]}}))
    assert m.mentions_bot
    r = one(msg({"msgtype": "m.text", "body": "/报修 消防栓 broken"}))
    assert r.command is Command.REPORT
    assert r.text == "消防栓 broken"
    assert not one(msg({"msgtype": "m.text", "body": "just chatting"})).mentions_bot


def test_edit_uses_new_content() -> None:
    m = one(
        msg(
            {
                "msgtype": "m.text",
                "body": "* fixed text",
                "m.new_content": {"msgtype": "m.text", "body": "fixed text"},
                "m.relates_to": {"rel_type": "m.replace", "event_id": "$orig"},
            },
            eid="$edit",
        )
    )
    assert m.edit_of == "$orig"
    assert m.text == "fixed text"
    assert m.message_id == "$edit"


def test_image_file_location() -> None:
    img = one(
        msg(
            {
                "msgtype": "m.image",
                "body": "leak.jpg",
                "url": "mxc://example.org/abc",
                "info": {"mimetype": "image/jpeg", "size": 1234},
            }
        )
    )
    assert img.attachments[0].kind is AttachmentKind.PHOTO
    assert img.attachments[0].ref == "mxc://example.org/abc"
    assert img.attachments[0].size == 1234
    assert img.text == ""
    f = one(msg({"msgtype": "m.file", "body": "see this", "filename": "a.pdf", "url": "mxc://x/y"}))
    assert f.attachments[0].kind is AttachmentKind.FILE
    assert f.text == "see this"
    loc = one(msg({"msgtype": "m.location", "body": "gate", "geo_uri": "geo:22.5,114.1;u=10"}))
    assert loc.location is not None
    assert (loc.location.latitude, loc.location.longitude) == (22.5, 114.1)


def test_encrypted_file_keeps_its_key_in_the_reference() -> None:
    """An attachment from an encrypted room: the ref carries what decrypts it; a file
    whose key is missing or of another algorithm is malformed, never stored undecryptable."""
    plain = b"leak under the sink"
    sealed, keys = encrypt_attachment(plain)
    file = {"url": "mxc://example.org/enc", **keys}
    img = one(msg({"msgtype": "m.image", "body": "leak.jpg", "file": file}))
    ref = img.attachments[0].ref
    url, key = split_ref(ref)
    assert url == "mxc://example.org/enc"
    assert key is not None
    assert open_file(sealed, key) == plain
    with pytest.raises(NotPossible, match="does not check out"):
        open_file(sealed + b"x", key)
    assert split_ref("mxc://example.org/abc") == ("mxc://example.org/abc", None)
    before = INBOUND_MALFORMED.labels(platform="matrix")._value.get()
    no_key = {k: v for k, v in file.items() if k != "key"}
    other_alg = {**file, "key": {**file["key"], "alg": "A128CBC"}}
    for bad in (no_key, other_alg, {**file, "hashes": {}}, {"url": "mxc://x/y"}):
        bad_msg = msg({"msgtype": "m.file", "body": "f", "file": bad})
        out, _ = room_events(ROOM, [bad_msg], ME, GROUP)
        assert out == []
    assert INBOUND_MALFORMED.labels(platform="matrix")._value.get() == before + 4


def test_own_events_and_unknown_are_skipped() -> None:
    out, _ = room_events(
        ROOM,
        [
            msg({"msgtype": "m.notice", "body": "ack"}, sender=ME.user_id),
            msg({"msgtype": "m.text", "body": "mine"}, sender=ME.user_id),
            msg({"msgtype": "org.custom", "body": "?"}),
            {"type": "m.reaction", "sender": "@a:b", "content": {}},
            msg({"msgtype": "m.image", "body": "no url"}),
        ],
        ME,
        GROUP,
    )
    assert out == []


def test_direct_by_flag_or_two_members() -> None:
    assert one(msg({"msgtype": "m.text", "body": "x"}), RoomInfo(is_direct=True)).chat_kind is (
        ChatKind.DIRECT
    )
    assert one(msg({"msgtype": "m.text", "body": "x"}), RoomInfo(members=2)).chat_kind is (
        ChatKind.DIRECT
    )
    named = RoomInfo(title="Board", members=2)
    assert one(msg({"msgtype": "m.text", "body": "x"}), named).chat_kind is ChatKind.GROUP


def _member(key: str, membership: str, sender: str, **extra: Any) -> dict[str, Any]:
    return {
        "type": "m.room.member",
        "state_key": key,
        "sender": sender,
        "event_id": f"${key}{membership}",
        "content": {"membership": membership, **extra},
    }


def test_invite_policy_join_leave_and_encryption() -> None:
    body = {
        "next_batch": "s1",
        "rooms": {
            "invite": {
                "!a:example.org": {
                    "invite_state": {"events": [_member(ME.user_id, "invite", "@bob:example.org")]}
                },
                "!b:elsewhere.net": {
                    "invite_state": {"events": [_member(ME.user_id, "invite", "@eve:evil.net")]}
                },
            },
            "join": {
                "!e:example.org": {
                    "timeline": {
                        "events": [
                            _member(ME.user_id, "join", ME.user_id),
                            {
                                "type": "m.room.encrypted",
                                "sender": "@x:example.org",
                                "event_id": "$enc",
                                "content": {"ciphertext": "..."},
                            },
                        ],
                        "limited": True,
                        "prev_batch": "p1",
                    }
                }
            },
            "leave": {
                "!k:example.org": {
                    "timeline": {
                        "events": [_member(ME.user_id, "ban", "@mod:example.org", reason="spam")]
                    }
                }
            },
        },
    }
    batch = normalize_sync(body, ME, {}, "same_server")
    assert batch.joins == ("!a:example.org",)
    assert normalize_sync(body, ME, {}, "any").joins == ("!a:example.org", "!b:elsewhere.net")
    seen = [e for e in batch.events if isinstance(e, TargetSeen)]
    assert seen[-1].reason == ENCRYPTED_REASON
    assert batch.rooms["!e:example.org"].encrypted
    gone = [e for e in batch.events if isinstance(e, TargetGone)]
    assert gone[0].reason == "banned by @mod:example.org: spam"
    assert batch.backfills[0].prev_batch == "p1"
    assert invite_allowed("@eve:evil.net", ME, ["evil.net"])
    assert invite_allowed("@eve:evil.net", ME, ["@eve:evil.net"])
    assert not invite_allowed("@bob:example.org", ME, ["evil.net"])


def test_strip_reply_fallback_keeps_plain_quotes() -> None:
    assert strip_reply_fallback("> not a fallback") == "> not a fallback"
    assert strip_reply_fallback("> <@a:b> q\n> more\n\nanswer") == "answer"


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(
            st.sampled_from(
                [
                    "type",
                    "content",
                    "sender",
                    "event_id",
                    "state_key",
                    "msgtype",
                    "body",
                    "url",
                    "geo_uri",
                    "m.relates_to",
                    "m.in_reply_to",
                    "m.new_content",
                    "rel_type",
                    "membership",
                    "events",
                    "timeline",
                    "rooms",
                    "join",
                    "leave",
                    "invite",
                    "invite_state",
                    "limited",
                    "prev_batch",
                    "summary",
                    "info",
                    "m.mentions",
                    "user_ids",
                ]
            )
            | st.text(max_size=10),
            inner,
            max_size=5,
        )
    ),
    max_leaves=40,
)
event_types = st.sampled_from(
    ["m.room.message", "m.room.member", "m.room.encrypted", "m.room.encryption", "m.room.name"]
)
events = st.fixed_dictionaries(
    {"type": event_types | st.text(max_size=8)},
    optional={
        "content": json_values,
        "sender": st.sampled_from([ME.user_id, "@a:example.org"]) | json_values,
        "event_id": st.text(max_size=5) | json_values,
        "state_key": st.sampled_from([ME.user_id, ""]) | json_values,
        "origin_server_ts": json_values,
    },
)


@settings(max_examples=300, deadline=None)
@given(
    room_id=st.text(max_size=8) | json_values,
    timeline=st.lists(events | json_values, max_size=6),
    junk=json_values,
)
def test_never_raises_on_arbitrary_json(room_id: Any, timeline: Any, junk: Any) -> None:
    body = {
        "rooms": {
            "join": {
                room_id if isinstance(room_id, str) else "!x": {"timeline": {"events": timeline}}
            },
            "leave": {"!y": {"timeline": {"events": timeline}}},
            "invite": {"!z": {"invite_state": {"events": timeline}}},
            "junk": junk,
        }
    }
    for policy in ("any", "same_server"):
        batch = normalize_sync(body, ME, {}, policy)  # type: ignore[arg-type]
        assert isinstance(batch.events, tuple)
    normalize_sync(junk if isinstance(junk, dict) else {"rooms": junk}, ME, {}, "any")


def test_parked_card_commands_parse_with_slash_and_bang() -> None:
    # Element eats a leading "/" it does not know, so staff may type "!handled" too.
    from adapters.matrix.messages import _command
    from gateway.models import Command

    assert _command("/handled") == (Command.HANDLED, "")
    assert _command("!retry ") == (Command.RETRY, "")
    assert _command("/RETRY now") == (Command.RETRY, "now")
    assert _command("/handledx") == (None, "/handledx")
