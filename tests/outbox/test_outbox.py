"""The outbox against a real Redis with the in-memory adapter."""

from __future__ import annotations

import asyncio
import time

import pytest

from gateway import errors
from gateway.metrics import DELIVERIES, RATE_LIMITED
from gateway.models import DeliveryId, OutboundMessage, PlatformMessageId, RateRule, TargetId
from gateway.outbox import (
    DeliveryResult,
    OutboxItem,
    OutboxStore,
    enqueue,
    lookup_msgref,
)
from gateway.runtime import Runtime
from gateway.targets import TargetDirectory
from tests.fakes.memory_adapter import MemoryAdapter
from tests.outbox.helpers import seed, wait_for, with_outbox, workers


def item(target: str, origin_id: str = "A-1", text: str = "hello") -> OutboxItem:
    did = DeliveryId(f"{origin_id}:{target}")
    return OutboxItem(did, "announcement", origin_id, OutboundMessage(TargetId(target), text, did))


async def all_final(rt: Runtime, origin_id: str = "A-1") -> bool:
    counts = await OutboxStore(rt).counts("announcement", origin_id)
    return bool(counts) and not any(c.get("queued") for c in counts.values())


async def test_sends_each_delivery_once_and_records_msgrefs(runtime: Runtime) -> None:
    rt = with_outbox(runtime)
    mem = MemoryAdapter()
    rt.adapters["telegram"] = mem
    targets = [f"telegram:{-100 - i}" for i in range(20)]
    await seed(rt, {t: [] for t in targets})
    await enqueue(rt, [item(t) for t in targets])
    await enqueue(rt, [item(t) for t in targets])  # the same ids again: ignored
    results: list[DeliveryResult] = []

    async def hook(_: Runtime, r: DeliveryResult) -> None:
        results.append(r)

    sent_before = DELIVERIES.labels(platform="telegram", result="sent")._value.get()
    async with workers(rt, {"announcement": hook}):
        await wait_for(lambda: all_final(rt))
    assert sorted(s.target for s in mem.sends) == sorted(targets)
    assert DELIVERIES.labels(platform="telegram", result="sent")._value.get() == sent_before + 20
    assert {r.state for r in results} == {"sent"}
    assert len({r.delivery_id for r in results}) == 20
    sent = mem.sends[0]
    ref = await lookup_msgref(rt, sent.target, sent.message_id)
    assert ref == ("announcement", "A-1")
    assert await lookup_msgref(rt, sent.target, PlatformMessageId("999999")) is None
    assert (await OutboxStore(rt).pending()).get("telegram") == 0
    # acked entries are deleted: nothing left in the streams
    assert await rt.redis.xlen(OutboxStore(rt).stream("telegram", "normal")) == 0


async def test_failing_target_is_listed_while_the_rest_go_out(runtime: Runtime) -> None:
    rt = with_outbox(runtime)
    mem = MemoryAdapter()
    rt.adapters["telegram"] = mem
    targets = [f"telegram:{i}" for i in range(1, 6)]
    await seed(rt, {t: [] for t in targets})
    mem.fail_always("telegram:3", errors.Rejected("message is too long"))
    await enqueue(rt, [item(t) for t in targets])
    async with workers(rt):
        await wait_for(lambda: all_final(rt))
    store = OutboxStore(rt)
    by_target = {d.target: d for d in await store.of_origin("announcement", "A-1")}
    assert by_target["telegram:3"].state == "failed"
    assert by_target["telegram:3"].reason == "message is too long"
    assert not by_target["telegram:3"].retryable
    assert by_target["telegram:3"].attempts == 1
    assert {t for t, d in by_target.items() if d.state == "sent"} == set(targets) - {"telegram:3"}


async def test_target_gone_marks_inactive_without_retry(runtime: Runtime) -> None:
    rt = with_outbox(runtime)
    mem = MemoryAdapter()
    rt.adapters["telegram"] = mem
    await seed(rt, {"telegram:7": ["b"], "telegram:8": ["b"]})
    mem.fail_always("telegram:7", errors.TargetGone("bot was blocked by the user"))
    await enqueue(rt, [item("telegram:7"), item("telegram:8")])
    async with workers(rt):
        await wait_for(lambda: all_final(rt))
    d = await OutboxStore(rt).get("A-1:telegram:7")
    assert d is not None
    assert d.state == "failed"
    assert d.attempts == 1
    target = await TargetDirectory(rt.redis, rt.keys).get("telegram:7")
    assert target is not None
    assert target.state == "inactive"
    assert target.reason == "bot was blocked by the user"
    assert mem.calls == 2


async def test_chat_migrated_follows_the_new_id_once(runtime: Runtime) -> None:
    rt = with_outbox(runtime)
    mem = MemoryAdapter()
    rt.adapters["telegram"] = mem
    await seed(rt, {"telegram:-5": ["building:5"]})
    mem.fail_next("telegram:-5", errors.ChatMigrated("upgraded", new_target="telegram:-1005"))
    await enqueue(rt, [item("telegram:-5")])
    async with workers(rt):
        await wait_for(lambda: all_final(rt))
    assert [s.target for s in mem.sends] == ["telegram:-1005"]
    d = await OutboxStore(rt).get("A-1:telegram:-5")
    assert d is not None
    assert d.state == "sent"
    assert d.target == "telegram:-1005"
    directory = TargetDirectory(rt.redis, rt.keys)
    new = await directory.get("telegram:-1005")
    old = await directory.get("telegram:-5")
    assert new is not None
    assert new.active
    assert new.tags == ("building:5",)
    assert old is not None
    assert old.reason == "migrated to telegram:-1005"
    assert old.tags == ()
    assert await lookup_msgref(rt, TargetId("telegram:-1005"), mem.sends[0].message_id)


async def test_429_retry_after_is_honoured_and_nothing_lost(runtime: Runtime) -> None:
    rt = with_outbox(runtime)
    mem = MemoryAdapter(rules=lambda t, k: [RateRule("bot", 1000, 1.0)])
    rt.adapters["telegram"] = mem
    targets = [f"telegram:{i}" for i in range(1, 11)]
    await seed(rt, {t: [] for t in targets})
    before = RATE_LIMITED.labels(platform="telegram")._value.get()
    mem.fail_next("telegram:4", errors.RateLimited("429", retry_after=1.0, scope="bot"))
    await enqueue(rt, [item(t) for t in targets])
    async with workers(rt):
        await wait_for(lambda: all_final(rt))
    assert sorted(s.target for s in mem.sends) == sorted(targets)
    assert RATE_LIMITED.labels(platform="telegram")._value.get() == before + 1
    d = await OutboxStore(rt).get("A-1:telegram:4")
    assert d is not None
    assert d.state == "sent"
    assert d.attempts == 2
    # every send after the 429 waited for the bot-wide pause
    t429 = next(s.at for s in mem.sends if s.target == "telegram:4")
    assert t429 - min(s.at for s in mem.sends) >= 0.9


async def test_retryable_errors_give_up_at_the_deadline(runtime: Runtime) -> None:
    rt = with_outbox(runtime, retry_deadline_seconds=1.0)
    mem = MemoryAdapter()
    rt.adapters["telegram"] = mem
    await seed(rt, {"telegram:1": []})
    mem.fail_always("telegram:1", errors.NetworkError("connection refused", retry_after=0.3))
    await enqueue(rt, [item("telegram:1")])
    async with workers(rt):
        await wait_for(lambda: all_final(rt))
    d = await OutboxStore(rt).get("A-1:telegram:1")
    assert d is not None
    assert d.state == "failed"
    assert d.retryable
    assert "connection refused" in (d.reason or "")
    assert d.attempts >= 2


async def test_urgent_overtakes_a_normal_backlog(runtime: Runtime) -> None:
    rt = with_outbox(runtime, workers=2)
    mem = MemoryAdapter(delay=0.005)
    rt.adapters["telegram"] = mem
    normal = [f"telegram:{i}" for i in range(1, 301)]
    urgent = [f"telegram:{i}" for i in range(1001, 1006)]
    await seed(rt, {t: [] for t in normal + urgent})
    await enqueue(rt, [item(t) for t in normal])
    async with workers(rt):
        await wait_for(lambda: _sent_count(mem, 20))
        from gateway.models import Priority

        await enqueue(
            rt,
            [
                OutboxItem(
                    DeliveryId(f"A-2:{t}"),
                    "announcement",
                    "A-2",
                    OutboundMessage(TargetId(t), "urgent!", f"A-2:{t}", priority=Priority.URGENT),
                )
                for t in urgent
            ],
        )
        await wait_for(lambda: all_final(rt, "A-1"))
        await wait_for(lambda: all_final(rt, "A-2"))
    order = [s.target for s in mem.sends]
    last_urgent = max(order.index(t) for t in urgent)
    assert last_urgent < 100, f"urgent finished at position {last_urgent} of {len(order)}"
    assert len(order) == 305


async def _sent_count(mem: MemoryAdapter, n: int) -> bool:
    return len(mem.sends) >= n


async def test_two_worker_sets_share_a_broadcast_without_duplicates(runtime: Runtime) -> None:
    a = with_outbox(runtime)
    b = with_outbox(runtime)
    b = type(b)(b.config, b.redis, b.redis_bytes, b.keys, b.instance + "-b", {})
    mem_a, mem_b = MemoryAdapter(delay=0.002), MemoryAdapter(delay=0.002)
    a.adapters["telegram"] = mem_a
    b.adapters["telegram"] = mem_b
    targets = [f"telegram:{i}" for i in range(1, 201)]
    await seed(a, {t: [] for t in targets})
    await enqueue(a, [item(t) for t in targets])
    async with workers(a), workers(b):
        await wait_for(lambda: all_final(a))
    sent = [s.target for s in mem_a.sends + mem_b.sends]
    assert sorted(sent) == sorted(targets)  # every one, none twice
    assert mem_a.sends
    assert mem_b.sends


async def test_inactive_target_fails_unsent_unknown_target_is_sent(runtime: Runtime) -> None:
    # The take reads the target's status with the delivery (one round trip): an inactive
    # target fails without a send, one not in the directory is sent. No hooks here, so
    # the final step acks and deletes the stream entries in the same Lua call.
    rt = with_outbox(runtime)
    mem = MemoryAdapter()
    rt.adapters["telegram"] = mem
    await seed(rt, {"telegram:7": [], "telegram:8": []})
    await TargetDirectory(rt.redis, rt.keys).mark_inactive(TargetId("telegram:7"), "kicked")
    await enqueue(rt, [item("telegram:7"), item("telegram:8"), item("telegram:9")])
    async with workers(rt):
        await wait_for(lambda: all_final(rt))
    store = OutboxStore(rt)
    gone = await store.get("A-1:telegram:7")
    assert gone is not None
    assert gone.state == "failed"
    assert gone.reason == "target inactive: kicked"
    assert sorted(s.target for s in mem.sends) == ["telegram:8", "telegram:9"]
    assert await rt.redis.xlen(store.stream("telegram", "normal")) == 0
    pending = await rt.redis.xpending(store.stream("telegram", "normal"), "workers")
    assert pending["pending"] == 0


async def test_a_retry_wait_hands_the_rest_of_the_batch_back(runtime: Runtime) -> None:
    # One delivery waits 2 s before its retry; the others read in the same batch must
    # not wait with it: they are re-queued and another worker sends them meanwhile.
    rt = with_outbox(runtime, workers=2)
    mem = MemoryAdapter()
    rt.adapters["telegram"] = mem
    targets = [f"telegram:{-300 - i}" for i in range(4)]
    await seed(rt, {t: [] for t in targets})
    mem.fail_next(targets[0], errors.RetryableError("busy", retry_after=2.0))
    await enqueue(rt, [item(t) for t in targets])
    async with workers(rt):
        await wait_for(lambda: all_final(rt))
    order = [s.target for s in mem.sends]
    assert sorted(order) == sorted(targets)
    assert order[-1] == targets[0]  # the others went out during its wait


async def test_a_graceful_stop_hands_the_unstarted_batch_back(runtime: Runtime) -> None:
    # One worker reads 4 entries and is stopped while sending the first: the other three
    # go back to the stream at once (new entries, nothing pending for them), instead of
    # waiting claim_idle_seconds in the stopped worker's hands.
    rt = with_outbox(runtime, workers=1, claim_idle_seconds=60.0)
    mem = MemoryAdapter(delay=5.0)
    rt.adapters["telegram"] = mem
    targets = [f"telegram:{-400 - i}" for i in range(4)]
    await seed(rt, {t: [] for t in targets})
    await enqueue(rt, [item(t) for t in targets])
    store = OutboxStore(rt)
    stream = store.stream("telegram", "normal")
    async with workers(rt):
        await wait_for(lambda: _attempted(rt, 1))
    pending = await rt.redis.xpending(stream, "workers")
    assert pending["pending"] == 1  # only the one it was sending
    entries = await rt.redis.xrange(stream)
    assert len(entries) == 4  # that one, and the three handed back as new entries
    assert mem.sends == []


async def _attempted(rt: Runtime, n: int) -> bool:
    ds = await OutboxStore(rt).of_origin("announcement", "A-1")
    return sum(d.attempts for d in ds) >= n


async def test_a_stamp_answered_late_is_made_again_before_the_send(
    runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The stamp's answer took 60 ms (a stalled loop): the send must not go out counted
    # from a time that long before it leaves, so the worker stamps once more first.
    from gateway.outbox import attempts
    from gateway.ratelimit import RateLimiter

    rt = with_outbox(runtime, workers=1)
    mem = MemoryAdapter(rules=lambda target, kind: [RateRule("bot:stale", 30, 1.0)])
    rt.adapters["telegram"] = mem
    await seed(rt, {"telegram:-1": []})
    order: list[str] = []
    real_try, real_stamp = RateLimiter.try_stamp, RateLimiter.stamp

    async def slow_try(
        self: RateLimiter, rules: object, member: str, *, until_sent: bool = False
    ) -> float:
        wait = await real_try(self, rules, member, until_sent=until_sent)  # type: ignore[arg-type]
        await asyncio.sleep(attempts.STAMP_STALE * 3)
        order.append("try_stamp")
        return wait

    async def stamp(
        self: RateLimiter, rules: object, member: str, *, until_sent: bool = False
    ) -> None:
        await real_stamp(self, rules, member, until_sent=until_sent)  # type: ignore[arg-type]
        order.append("stamp")

    monkeypatch.setattr(RateLimiter, "try_stamp", slow_try)
    monkeypatch.setattr(RateLimiter, "stamp", stamp)
    await enqueue(rt, [item("telegram:-1")])
    async with workers(rt):
        await wait_for(lambda: all_final(rt))
    # (stamp itself tries through try_stamp, once more slowly here)
    assert order[0] == "try_stamp"
    assert order[-1] == "stamp"
    assert order.count("stamp") == 1
    assert [s.target for s in mem.sends] == ["telegram:-1"]


async def test_a_free_send_counts_from_its_answer_a_paced_one_from_its_stamp(
    runtime: Runtime,
) -> None:
    # The platform counts a send when it arrives, some time before its answer: a free
    # send's entry in the shared log moves to the answer's time; a paced (paid) one
    # stays at its stamp (no second script per send at 1,000/s).
    rt = with_outbox(runtime, workers=1)
    free = RateRule("bot:answer", 30, 1.0, spread=True)
    paced = RateRule("paid:answer", 1000, 1.0, pace=True)
    mem = MemoryAdapter(
        rules=lambda target, kind: [paced if target.endswith("-2") else free], delay=0.3
    )
    rt.adapters["telegram"] = mem
    await seed(rt, {"telegram:-1": [], "telegram:-2": []})
    await enqueue(rt, [item("telegram:-1"), item("telegram:-2")])
    async with workers(rt):
        await wait_for(lambda: all_final(rt))
    assert len(mem.sends) == 2
    for rule, least_ms in ((free, 300), (paced, 0)):
        grid = await rt.redis.get(rt.keys("rate", "grid", rule.key))
        [(_, score)] = await rt.redis.zrange(
            rt.keys("rate", "log", rule.key), 0, -1, withscores=True
        )
        granted = float(grid) if grid is not None else None
        if rule is free:
            assert granted is not None
            # the 0.3 s send lies between; in flight it stood 0.5 s ahead of its stamp
            assert least_ms <= score - granted < 450
        else:
            assert granted is None  # not spread: no grid
            assert score < time.time() * 1000 - 250  # still at its stamp, before the send


async def test_a_take_run_again_with_its_answer_lost_counts_once(runtime: Runtime) -> None:
    # redis-py sends a whole pipeline again after a lost reply: the same take (same
    # owner) arrives twice. Counted twice, a never-sent delivery would reach the
    # dead-letter backstop for crashes that did not happen (a fault test saw 25 takes).
    rt = with_outbox(runtime)
    await enqueue(rt, [item("telegram:-1")])
    store = OutboxStore(rt)
    prefix = TargetDirectory(rt.redis, rt.keys).hash_prefix
    did = "A-1:telegram:-1"
    first, _ = await store.take_and_peek(did, "w:0:aa", None, "w:0", prefix)
    again, _ = await store.take_and_peek(did, "w:0:aa", None, "w:0", prefix)
    other, _ = await store.take_and_peek(did, "w:1:bb", None, "w:1", prefix)
    takes = [t.takes if t is not None else None for t in (first, again, other)]
    assert takes == [1, 1, 2]
