"""Announcements end to end in process: audience, idempotency, edit, recall, schedule."""

from __future__ import annotations

import time

import pytest

from gateway import announcements
from gateway.attachments import make_attachment
from gateway.errors import AudienceError, InputError, NotPossible, TargetGone
from gateway.models import Platform, Priority
from gateway.outbox import OutboxStore
from gateway.runtime import Runtime
from tests.fakes.memory_adapter import MemoryAdapter
from tests.outbox.helpers import seed, wait_for, with_outbox, workers

CHATS = {
    "telegram:-5": ["building:5", "compound:guanmei"],
    "matrix:!b5:example.org": ["building:5", "compound:guanmei"],
    "telegram:-6": ["building:6", "compound:guanmei"],
    "matrix:!b6:example.org": ["building:6", "compound:guanmei"],
    "telegram:-7": ["building:7"],
}


@pytest.fixture
async def rt(runtime: Runtime) -> Runtime:
    rt = with_outbox(runtime)
    rt.adapters["telegram"] = MemoryAdapter(platform=Platform("telegram"))
    rt.adapters["matrix"] = MemoryAdapter(platform=Platform("matrix"))
    await seed(rt, CHATS)
    return rt


def mem(rt: Runtime, platform: str) -> MemoryAdapter:
    adapter = rt.adapters[platform]
    assert isinstance(adapter, MemoryAdapter)
    return adapter


async def done(rt: Runtime, ann_id: str) -> bool:
    return (await announcements.get(rt, ann_id)).status == "done"


async def test_reaches_exactly_the_selected_targets_on_both_platforms(rt: Runtime) -> None:
    ann, fresh = await announcements.create(
        rt, text="Tank cleaning for **building 5**", to="building:5", title="Water"
    )
    assert fresh
    assert ann.id.startswith("A-")
    assert ann.status == "sending"
    assert ann.target_count == 2
    async with workers(rt):
        await wait_for(lambda: done(rt, ann.id))
    assert [s.target for s in mem(rt, "telegram").sends] == ["telegram:-5"]
    assert [s.target for s in mem(rt, "matrix").sends] == ["matrix:!b5:example.org"]
    assert mem(rt, "matrix").sends[0].text == "Tank cleaning for **building 5**"
    detail = await announcements.detail(rt, ann.id)
    assert detail["counts"] == {"sent": 2}
    assert detail["by_platform"] == {"matrix": {"sent": 1}, "telegram": {"sent": 1}}
    assert detail["replies"] == 0
    await rt.redis.sadd(rt.keys("announcement", ann.id, "replies"), "T-1", "T-2")
    assert (await announcements.detail(rt, ann.id))["replies"] == 2


async def test_same_idempotency_key_gives_one_announcement(rt: Runtime) -> None:
    a, fresh_a = await announcements.create(rt, text="x", to="*", idempotency_key="k1")
    b, fresh_b = await announcements.create(rt, text="x", to="*", idempotency_key="k1")
    c, _ = await announcements.create(rt, text="x", to="*", idempotency_key="k2")
    assert (fresh_a, fresh_b) == (True, False)
    assert a.id == b.id != c.id
    assert len(await announcements.list_recent(rt)) == 2
    assert len(await OutboxStore(rt).of_origin("announcement", a.id)) == 5


async def test_bad_input_is_rejected_before_anything_is_written(rt: Runtime) -> None:
    with pytest.raises(AudienceError, match="column 13"):
        await announcements.create(rt, text="x", to="building:5 &")
    with pytest.raises(AudienceError, match="matches no active target"):
        await announcements.create(rt, text="x", to="building:99")
    with pytest.raises(InputError, match="empty"):
        await announcements.create(rt, text="  ", to="*")
    assert await announcements.list_recent(rt) == []


async def test_edit_and_recall_reach_every_target_and_report_not_possible(rt: Runtime) -> None:
    ann, _ = await announcements.create(rt, text="old", to="compound:guanmei")
    async with workers(rt):
        await wait_for(lambda: done(rt, ann.id))
    results = await announcements.edit(rt, ann.id, "new text")
    assert sorted(r.target for r in results if r.result == "done") == sorted(
        t for t, tags in CHATS.items() if "compound:guanmei" in tags
    )
    assert {e[2] for e in mem(rt, "telegram").edits + mem(rt, "matrix").edits} == {"new text"}
    assert (await announcements.get(rt, ann.id)).status == "edited"

    mem(rt, "telegram").fail_recall("telegram:-6", NotPossible("message is older than 48 h"))
    results = await announcements.recall(rt, ann.id)
    by_target = {r.target: r for r in results}
    assert by_target["telegram:-6"].result == "not possible"
    assert by_target["telegram:-6"].reason == "message is older than 48 h"
    assert {t for t, r in by_target.items() if r.result == "done"} == {
        "telegram:-5", "matrix:!b5:example.org", "matrix:!b6:example.org"
    }  # fmt: skip
    detail = await announcements.detail(rt, ann.id)
    assert detail["status"] == "recalled"
    assert detail["counts"] == {"recalled": 3, "sent": 1}


async def test_recall_while_queued_cancels_the_rest(rt: Runtime) -> None:
    ann, _ = await announcements.create(rt, text="wrong", to="compound:guanmei")
    results = await announcements.recall(rt, ann.id)  # no workers yet: nothing went out
    assert {r.result for r in results} == {"cancelled"}
    async with workers(rt):
        await wait_for(lambda: _pending_zero(rt))
    assert mem(rt, "telegram").sends == []
    assert mem(rt, "matrix").sends == []


async def _pending_zero(rt: Runtime) -> bool:
    pending = await OutboxStore(rt).pending()
    return all(v == 0 for v in pending.values())


async def test_target_gone_is_listed_while_the_rest_go_out(rt: Runtime) -> None:
    mem(rt, "telegram").fail_always("telegram:-6", TargetGone("bot was kicked from the group"))
    ann, _ = await announcements.create(rt, text="hi", to="compound:guanmei")
    async with workers(rt):
        await wait_for(lambda: done(rt, ann.id))
    detail = await announcements.detail(rt, ann.id)
    assert detail["counts"] == {"sent": 3, "failed": 1}
    failed = [d for d in detail["deliveries"] if d["state"] == "failed"]
    assert failed[0]["target"] == "telegram:-6"
    assert failed[0]["reason"] == "bot was kicked from the group"
    assert failed[0]["retryable"] is False


async def test_scheduled_goes_out_after_a_restart(rt: Runtime) -> None:
    flyer = make_attachment("flyer.png", b"\x89PNG fake image bytes")
    ann, _ = await announcements.create(
        rt, text="later", to="building:6", send_at=time.time() + 2.0, attachments=[flyer],
        priority=Priority.URGENT,
    )  # fmt: skip
    assert ann.status == "scheduled"
    assert await announcements.dispatch_due(rt) == []
    assert await OutboxStore(rt).of_origin("announcement", ann.id) == []
    # "restart": a fresh runtime object sees the schedule in Redis and sends when due
    fresh = with_outbox(rt)
    assert await announcements.dispatch_due(fresh, now=time.time() + 3.0) == [ann.id]
    assert await announcements.dispatch_due(fresh, now=time.time() + 3.0) == []
    async with workers(fresh):
        await wait_for(lambda: done(fresh, ann.id))
    sends = mem(rt, "telegram").sends + mem(rt, "matrix").sends
    assert sorted(s.target for s in sends) == ["matrix:!b6:example.org", "telegram:-6"]
    assert {s.attachments for s in sends} == {("flyer.png",)}
    assert {s.priority for s in sends} == {"urgent"}


async def test_attachment_size_limit_is_a_clear_error() -> None:
    from gateway.attachments import MAX_ATTACHMENT_BYTES

    with pytest.raises(InputError, match="the limit is 20 MB"):
        make_attachment("huge.pdf", b"\0" * (MAX_ATTACHMENT_BYTES + 1))
    assert make_attachment("notice.pdf", b"%PDF").mime == "application/pdf"


async def test_edit_while_queued_sends_the_new_text(rt: Runtime) -> None:
    ann, _ = await announcements.create(rt, text="Tank cleaning Tue", to="building:5")
    results = await announcements.edit(rt, ann.id, "Tank cleaning Wed")
    assert {r.result for r in results} == {"updated"}
    async with workers(rt):
        await wait_for(lambda: _pending_zero(rt))
    sends = mem(rt, "telegram").sends + mem(rt, "matrix").sends
    assert {s.text for s in sends} == {"Tank cleaning Wed"}
    assert mem(rt, "telegram").edits == []


async def test_targets_on_an_unconfigured_platform_fail_at_once(rt: Runtime) -> None:
    from pydantic import SecretStr

    from gateway.config import PlatformsConfig, TelegramConfig

    platforms = PlatformsConfig(telegram=TelegramConfig(token=SecretStr("1:x")))
    only_tg = Runtime(
        rt.config.model_copy(update={"platforms": platforms}),
        rt.redis, rt.redis_bytes, rt.keys, rt.instance, rt.adapters,
    )  # fmt: skip
    ann, _ = await announcements.create(only_tg, text="hi", to="building:5")
    detail = await announcements.detail(only_tg, ann.id)
    by_target = {d["target"]: d for d in detail["deliveries"]}
    assert by_target["matrix:!b5:example.org"]["state"] == "failed"
    assert by_target["matrix:!b5:example.org"]["reason"] == "matrix is not configured"
    assert by_target["telegram:-5"]["state"] == "queued"
