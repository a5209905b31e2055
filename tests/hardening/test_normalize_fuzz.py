"""Arbitrary JSON at both platforms' normalisers: never an exception, never a silent drop.

Whatever yields no event is either skipped on purpose (debug, with a reason from a
short known list) or malformed: then ``palm_inbound_malformed_total{platform}`` rises
by exactly one per malformed thing and one warning names its id.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from adapters.matrix.normalize import normalize_sync
from adapters.matrix.rooms import Me
from adapters.telegram.normalize import BotIdentity, normalize
from gateway.metrics import INBOUND_MALFORMED
from tests.fakes.telegram_api import FakeTelegram

BOT = BotIdentity(123456789, "palm_test_bot")
ME = Me("@palm:example.org", "Palm Bot")
CASES = {"telegram": 0, "matrix": 0}

scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False)
    | st.text(max_size=12)
)


def _json(keys: list[str]) -> st.SearchStrategy[Any]:
    return st.recursive(
        scalars,
        lambda inner: (
            st.lists(inner, max_size=4)
            | st.dictionaries(st.sampled_from(keys) | st.text(max_size=6), inner, max_size=6)
        ),
        max_leaves=30,
    )


TG_KEYS = [
    "update_id", "message", "edited_message", "my_chat_member", "chat", "id", "type",
    "text", "caption", "from", "entities", "reply_to_message", "photo", "document",
    "location", "latitude", "longitude", "new_chat_member", "status", "message_id", "date",
]  # fmt: skip
MX_KEYS = [
    "rooms", "join", "leave", "invite", "timeline", "state", "events", "type", "content",
    "sender", "event_id", "state_key", "msgtype", "body", "membership", "invite_state",
]  # fmt: skip


def _malformed(platform: str) -> float:
    return INBOUND_MALFORMED.labels(platform=platform)._value.get()


class _Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@contextmanager
def captured(name: str) -> Iterator[_Records]:
    handler, logger = _Records(), logging.getLogger(name)
    old = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    try:
        yield handler
    finally:
        logger.removeHandler(handler)
        logger.setLevel(old)


_TG_SKIPS = ("unhandled update type", "channel post", "group chatter", "no text, media")


@settings(max_examples=500, deadline=None)
@given(
    st.one_of(
        _json(TG_KEYS),
        st.fixed_dictionaries(
            {"update_id": st.integers(0, 10**6)},
            optional={
                "message": _json(TG_KEYS),
                "my_chat_member": _json(TG_KEYS),
            },
        ),
    )
)
def test_telegram_every_update_is_an_event_a_reasoned_skip_or_counted(update: Any) -> None:
    CASES["telegram"] += 1
    before = _malformed("telegram")
    with captured("adapters.telegram.normalize") as log:
        events = normalize(update, BOT)
    counted = _malformed("telegram") - before
    warnings = [r for r in log.records if r.levelno == logging.WARNING]
    debug = [r for r in log.records if r.levelno == logging.DEBUG]
    assert counted == len(warnings) <= 1
    if warnings:
        assert events == []
        assert "cannot be normalised" in warnings[0].getMessage()
        shown = update.get("update_id") if isinstance(update, dict) else None
        is_id = isinstance(shown, int) and not isinstance(shown, bool)
        assert str(shown if is_id else "?") in (warnings[0].getMessage())
    elif not events:
        assert len(debug) == 1
        assert any(reason in debug[0].getMessage() for reason in _TG_SKIPS)


def test_telegram_known_malformed_shapes_are_counted() -> None:
    f = FakeTelegram()
    good = f.private_message(42, "hello")
    bad = [
        [1, 2],
        {"update_id": 9, "message": "not an object"},
        {**good, "update_id": 10, "message": {**good["message"], "chat": {"id": "x"}}},
        {**good, "update_id": 11, "message": {**good["message"], "message_id": None}},
    ]
    for update in bad:
        before = _malformed("telegram")
        with captured("adapters.telegram.normalize") as log:
            assert normalize(update, BOT) == []
        assert _malformed("telegram") - before == 1
        [warning] = log.records
        assert warning.levelno == logging.WARNING


def _sync(room: Any, events: Any) -> dict[str, Any]:
    return {"rooms": {"join": {"!r:example.org": room if room is not None else {
        "timeline": {"events": events}}}}}  # fmt: skip


mx_events = st.lists(
    st.fixed_dictionaries(
        {},
        optional={
            "type": st.sampled_from(["m.room.message", "m.room.member", "x"]) | scalars,
            "content": _json(MX_KEYS),
            "sender": st.sampled_from(["@a:example.org", ME.user_id]) | scalars,
            "event_id": st.text(max_size=5) | scalars,
            "state_key": st.sampled_from([ME.user_id, ""]) | scalars,
        },
    )
    | _json(MX_KEYS),
    max_size=5,
)


@settings(max_examples=400, deadline=None)
@given(body=_json(MX_KEYS), events=mx_events)
def test_matrix_sync_never_raises_and_counts_each_warning(body: Any, events: Any) -> None:
    CASES["matrix"] += 1
    for doc in (body if isinstance(body, dict) else {"rooms": body}, _sync(None, events)):
        before = _malformed("matrix")
        with captured("adapters.matrix.normalize") as log:
            normalize_sync(doc, ME, {}, "any")
        warnings = [r for r in log.records if r.levelno >= logging.WARNING]
        assert _malformed("matrix") - before == len(warnings)
        assert all("cannot be normalised" in w.getMessage() for w in warnings)


def test_matrix_malformed_events_are_counted_once_each() -> None:
    events = [
        "not an object",
        {"type": "m.room.message", "event_id": "$1", "content": {"body": "x"}},  # no sender
        {"type": "m.room.message", "event_id": "$2", "sender": "@a:b", "content": {"body": 1}},
        {"event_id": "$3", "sender": "@a:b"},  # no type
        {"type": "m.room.message", "event_id": "$4", "sender": "@a:b", "content": {}},  # redacted
        {"type": "m.reaction", "event_id": "$5", "sender": "@a:b", "content": {}},  # not ours
    ]
    before = _malformed("matrix")
    with captured("adapters.matrix.normalize") as log:
        batch = normalize_sync(_sync(None, events), ME, {}, "any")
    assert batch.events == ()
    assert _malformed("matrix") - before == 4
    shown = [r.getMessage() for r in log.records]
    assert [("'$1'" in m, "'$2'" in m, "'$3'" in m) for m in shown[1:]] == [
        (True, False, False), (False, True, False), (False, False, True)
    ]  # fmt: skip


def test_zz_report_cases_tried() -> None:
    # The count of generated cases, for the closing note (pytest -s shows it).
    if not any(CASES.values()):
        pytest.skip("the fuzz tests did not run in this session")
    print(f"\nnormaliser fuzz cases tried: {CASES}")
    assert CASES["telegram"] >= 100
    assert CASES["matrix"] >= 100
