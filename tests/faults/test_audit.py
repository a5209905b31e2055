"""The broadcast audit catches each way a broadcast can be wrong (a table, no processes)."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest

from tests.faults.audit import audit

AUDIENCE = ["telegram:-1", "telegram:-2", "telegram:-3"]


def shown(*rows: tuple[str, str, bool], reason: str | None = None) -> dict[str, Any]:
    return {
        "deliveries": [
            {"target": t, "state": s, "possible_duplicate": dup, "reason": reason}
            for t, s, dup in rows
        ]
    }


ALL_SENT = shown(*((t, "sent", False) for t in AUDIENCE))
ONE_EACH = Counter(dict.fromkeys(AUDIENCE, 1))


def test_an_exact_broadcast_passes() -> None:
    result = audit(ALL_SENT, AUDIENCE, ONE_EACH)
    result.check()
    assert (result.audience, result.lost, result.duplicated, result.counted) == (3, 0, 0, 0)


def test_a_flagged_second_copy_passes() -> None:
    flagged = shown(("telegram:-1", "sent", True), ("telegram:-2", "sent", False),
                    ("telegram:-3", "sent", False))  # fmt: skip
    result = audit(flagged, AUDIENCE, ONE_EACH + Counter({"telegram:-1": 1}))
    result.check()
    assert (result.duplicated, result.counted) == (1, 1)


@pytest.mark.parametrize(
    ("deliveries", "received", "problem"),
    [
        # palm says sent, the chat has nothing
        (ALL_SENT, Counter({"telegram:-1": 1, "telegram:-2": 1}), "missing: telegram:-3"),
        # palm's list lacks a chat of the audience (and the chat has nothing either)
        (shown(("telegram:-1", "sent", False), ("telegram:-2", "sent", False)),
         Counter({"telegram:-1": 1, "telegram:-2": 1}), "deliveries: 2 for an audience of 3"),
        (shown(("telegram:-1", "sent", False), ("telegram:-2", "sent", False)),
         ONE_EACH, "no delivery for telegram:-3"),
        # a second copy without the flag, and a third copy even with it
        (ALL_SENT, ONE_EACH + Counter({"telegram:-2": 1}), "duplicate: telegram:-2 received 2"),
        (shown(("telegram:-1", "sent", True), ("telegram:-2", "sent", False),
               ("telegram:-3", "sent", False)),
         ONE_EACH + Counter({"telegram:-1": 2}), "received 3 (at most 2)"),
        # a copy in a chat nobody chose
        (ALL_SENT, ONE_EACH + Counter({"telegram:-9": 1}), "stray: telegram:-9"),
        # not finished, or failed with no reason
        (shown(("telegram:-1", "sent", False), ("telegram:-2", "queued", False),
               ("telegram:-3", "sent", False)), ONE_EACH, "unfinished: telegram:-2"),
        (shown(*((t, "failed", False) for t in AUDIENCE)), Counter(),
         "unexpected failure: telegram:-1 (no reason given)"),
    ],
)  # fmt: skip
def test_each_breach_is_named(
    deliveries: dict[str, Any], received: Counter[str], problem: str
) -> None:
    result = audit(deliveries, AUDIENCE, received)
    assert any(problem in p for p in result.problems), result.problems
    with pytest.raises(AssertionError, match="broadcast audit failed"):
        result.check()


def test_expected_failures_and_migrations() -> None:
    deliveries = shown(("telegram:-1", "sent", False), ("telegram:-200", "sent", False),
                       ("telegram:-3", "failed", False), reason="chat not found")  # fmt: skip
    moved = {"telegram:-2": "telegram:-200"}
    received = Counter({"telegram:-1": 1, "telegram:-200": 1})
    gone = {"telegram:-3": "chat not found"}
    audit(deliveries, AUDIENCE, received, expect_failed=gone, migrated=moved).check()
    # the failed chat got the message anyway, and palm did not flag the risk
    wrong = audit(deliveries, AUDIENCE, received + Counter({"telegram:-3": 1}),
                  expect_failed=gone, migrated=moved)  # fmt: skip
    assert wrong.problems == ["telegram:-3: failed, yet received 1 (not flagged)"]
    # a different reason than expected
    other = audit(deliveries, AUDIENCE, received, expect_failed={"telegram:-3": "blocked"},
                  migrated=moved)  # fmt: skip
    assert other.problems == ["telegram:-3: failed (chat not found), expected failed (blocked)"]
