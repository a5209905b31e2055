"""The one check every fault test ends with: what the chats received, against the audience.

palm's own delivery list can be wrong in the same way as palm (a delivery that never
got created is missing from the list *and* from the chat). So the audit starts from
the audience the test chose, and from what the fake Bot API (or Synapse) recorded per
chat, and only then compares palm's deliveries:

* the number of deliveries equals the audience;
* every chat of the audience has a delivery, and one that is ``sent`` has the message
  (``expect_failed`` chats must be ``failed`` with exactly that reason, and must not
  have the message);
* a chat that got a second copy has its delivery flagged ``possible_duplicate``, and
  no chat got more than ``max_copies``;
* no chat outside the audience got the message;
* nothing is still queued or in flight, and every failure carries its reason.

``Audit.problems`` lists each breach in words, so a failing test says which chat and why.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from tests.fakes.synapse import User
from tests.fakes.telegram_api import FakeTelegram

__all__ = ["Audit", "audit", "synapse_received", "telegram_received", "tg_audience"]


def tg_audience(chats: Iterable[int]) -> list[str]:
    """Target ids of Telegram chats."""
    return [f"telegram:{c}" for c in chats]


def telegram_received(fake: FakeTelegram, text: str) -> Counter[str]:
    """Target id -> visible copies of ``text`` the fake Bot API accepted (deleted or not)."""
    return Counter(f"telegram:{m.chat_id}" for m in fake.messages if text in (m.text, m.caption))


async def synapse_received(
    member: User, rooms: Iterable[str], sender: str, text: str
) -> Counter[str]:
    """Target id -> copies of ``text`` that ``sender`` posted, read by ``member`` from Synapse."""
    got: Counter[str] = Counter()
    for room in rooms:
        for e in await member.messages(room):
            if e.get("sender") == sender and e.get("content", {}).get("body") == text:
                got[f"matrix:{room}"] += 1
    return got


@dataclass(frozen=True)
class Audit:
    audience: int
    deliveries: int
    lost: int
    """Chats of the audience (not expected to fail) that received nothing."""
    received: Counter[str]
    duplicated: int
    """Extra copies in chats (beyond the first)."""
    counted: int
    """Deliveries flagged ``possible_duplicate``."""
    failed: dict[str, str]
    problems: list[str] = field(default_factory=list)

    def row(self, fault: str, notes: str = "") -> str:
        return (
            f"FAULT-TABLE | {fault} | {self.audience} | {self.lost} | {self.duplicated} "
            f"(counted {self.counted}) | {notes}"
        )

    def check(self) -> None:
        """Raise with every breach listed; nothing when the broadcast is exact."""
        assert not self.problems, "broadcast audit failed:\n  " + "\n  ".join(self.problems)


def audit(
    shown: Mapping[str, Any],
    audience: Iterable[str],
    received: Counter[str],
    *,
    expect_failed: Mapping[str, str] | None = None,
    migrated: Mapping[str, str] | None = None,
    max_copies: int = 2,
) -> Audit:
    """Compare ``shown`` (``palm announcements show --json``) with the chats.

    ``migrated``: old target -> new target for groups that were upgraded on the way
    (the delivery and the message are at the new id).
    """
    expect_failed = dict(expect_failed or {})
    moved = dict(migrated or {})
    wanted = [moved.get(t, t) for t in audience]
    deliveries: list[Mapping[str, Any]] = list(shown["deliveries"])
    by_target: dict[str, list[Mapping[str, Any]]] = {}
    for d in deliveries:
        by_target.setdefault(str(d["target"]), []).append(d)
    problems: list[str] = []
    if len(deliveries) != len(wanted):
        problems.append(f"deliveries: {len(deliveries)} for an audience of {len(wanted)}")
    for target in wanted:
        problems += _check_chat(
            target, by_target.get(target, []), received[target], expect_failed, max_copies
        )
    for target in sorted(set(received) - set(wanted)):
        problems.append(f"stray: {target} is outside the audience and got {received[target]}")
    for target in sorted(set(by_target) - set(wanted)):
        problems.append(f"delivery outside the audience: {target}")
    return Audit(
        audience=len(wanted),
        deliveries=len(deliveries),
        lost=sum(1 for t in wanted if t not in expect_failed and received[t] == 0),
        received=received,
        duplicated=sum(n - 1 for n in received.values() if n > 1),
        counted=sum(1 for d in deliveries if d.get("possible_duplicate")),
        failed={str(d["target"]): str(d["reason"]) for d in deliveries if d["state"] == "failed"},
        problems=problems,
    )


def _check_chat(
    target: str,
    mine: list[Mapping[str, Any]],
    copies: int,
    expect_failed: Mapping[str, str],
    max_copies: int,
) -> list[str]:
    if not mine:
        return [f"no delivery for {target} ({copies} copies received)"]
    if len(mine) > 1:
        return [f"{len(mine)} deliveries for {target}"]
    [d] = mine
    state, reason = d["state"], d.get("reason")
    out: list[str] = []
    if target in expect_failed:
        if (state, reason) != ("failed", expect_failed[target]):
            out.append(f"{target}: {state} ({reason}), expected failed ({expect_failed[target]})")
        if copies and not d.get("possible_duplicate"):
            # only a send in flight at a crash may have landed without palm knowing
            out.append(f"{target}: failed, yet received {copies} (not flagged)")
        return out
    if state == "failed":
        out.append(f"unexpected failure: {target} ({reason or 'no reason given'})")
    elif state != "sent":
        out.append(f"unfinished: {target} is {state}")
    elif copies == 0:
        out.append(f"missing: {target} is sent but received nothing")
    if copies > 1 and not d.get("possible_duplicate"):
        out.append(
            f"duplicate: {target} received {copies}, delivery not flagged possible_duplicate"
        )
    if copies > max_copies:
        out.append(f"duplicate: {target} received {copies} (at most {max_copies})")
    return out
