"""Poll updates as each platform sends them, normalised (pure)."""

from __future__ import annotations

from adapters.matrix.polls import end_content, poll_vote, start_content
from adapters.telegram.normalize import BotIdentity, normalize
from gateway.models import PollSpec, PollVote
from gateway.polls.model import numbered_choice

ME = BotIdentity(42, "palm_bot")


def test_telegram_poll_answer_and_retraction() -> None:
    user = {"id": 7, "is_bot": False, "first_name": "Li"}
    upd = {"update_id": 9, "poll_answer": {"poll_id": "P1", "user": user, "option_ids": [1],
                                           "option_persistent_ids": ["P1-1"]}}  # fmt: skip
    (v,) = normalize(upd, ME)
    assert isinstance(v, PollVote)
    assert (v.poll_ref, v.options, v.sender.user_id, v.dedupe_key) == ("P1", (1,), "7", "u9")
    assert v.target is None
    retract = {"update_id": 10, "poll_answer": {"poll_id": "P1", "user": user, "option_ids": []}}
    assert normalize(retract, ME)[0].options == ()  # type: ignore[union-attr]
    chat = {"id": -5, "type": "supergroup", "title": "x"}
    as_chat = {"update_id": 11, "poll_answer": {"poll_id": "P1", "voter_chat": chat,
                                                "option_ids": [0]}}  # fmt: skip
    assert normalize(as_chat, ME) == []


def test_matrix_stable_unstable_and_spoiled_responses() -> None:
    rel = {"rel_type": "m.reference", "event_id": "$start"}
    stable = {
        "type": "m.poll.response",
        "sender": "@a:x",
        "event_id": "$1",
        "origin_server_ts": 1000,
        "content": {"m.relates_to": rel, "m.selections": ["1"]},
    }
    unstable = {
        **stable,
        "event_id": "$2",
        "content": {"m.relates_to": rel, "org.matrix.msc3381.poll.response": {"answers": ["0"]}},
    }
    spoiled = {**stable, "event_id": "$3", "content": {"m.relates_to": rel,
                                                       "m.selections": ["zz"]}}  # fmt: skip
    v1 = poll_vote("!r:x", stable, "@bot:x", "Alice")
    v2 = poll_vote("!r:x", unstable, "@bot:x", "")
    v3 = poll_vote("!r:x", spoiled, "@bot:x", "")
    assert v1 is not None
    assert v2 is not None
    assert v3 is not None
    assert (v1.poll_ref, v1.options, v1.sent_at, v1.target) == ("$start", (1,), 1.0, "matrix:!r:x")
    assert v2.options == (0,)
    assert v3.options == ()
    assert poll_vote("!r:x", {**stable, "sender": "@bot:x"}, "@bot:x", "") is None
    assert poll_vote("!r:x", {**stable, "content": {}}, "@bot:x", "") is None


def test_matrix_contents_carry_stable_and_unstable_fields() -> None:
    c = start_content(PollSpec("Q?", ("a", "b"), multiple=True), "fallback")
    assert c["m.poll"]["max_selections"] == 2
    assert c["org.matrix.msc3381.poll.start"]["answers"][1] == {
        "id": "1",
        "org.matrix.msc1767.text": "b",
    }
    assert c["body"] == "fallback"
    end = end_content("$start", "result")
    assert end["m.relates_to"] == {"rel_type": "m.reference", "event_id": "$start"}
    assert "org.matrix.msc3381.poll.end" in end


def test_numbered_choice() -> None:
    assert numbered_choice("2", 3, False) == (1,)
    assert numbered_choice(" 1, 3 ", 3, True) == (0, 2)
    assert numbered_choice("1 3", 3, False) is None
    assert numbered_choice("4", 3, False) is None
    assert numbered_choice("0", 3, False) is None
    assert numbered_choice("yes", 3, False) is None
