"""Announcements larger than one chunk: written in chunks, whole after a crash, and an
edit or recall made while the chunks are written reaches every later chunk."""

from __future__ import annotations

import time
from collections.abc import Sequence

import pytest

from gateway import announce_enqueue, announcements
from gateway.models import Platform, Priority
from gateway.outbox import OutboxItem, OutboxStore, bulk
from gateway.runtime import Runtime
from tests.fakes.memory_adapter import MemoryAdapter
from tests.outbox.helpers import seed, wait_for, with_outbox, workers

N = 25  # targets; chunks of 10: three chunks


@pytest.fixture(autouse=True)
def small_chunks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(bulk, "CHUNK", 10)


@pytest.fixture
async def rt(runtime: Runtime) -> Runtime:
    rt = with_outbox(runtime)
    rt.adapters["telegram"] = MemoryAdapter(platform=Platform("telegram"))
    await seed(rt, {f"telegram:-{100 + i}": ["street:1"] for i in range(N)})
    return rt


def sends(rt: Runtime) -> list[tuple[str, str]]:
    adapter = rt.adapters["telegram"]
    assert isinstance(adapter, MemoryAdapter)
    return [(s.target, s.text) for s in adapter.sends]


async def done(rt: Runtime, ann_id: str) -> bool:
    return (await announcements.get(rt, ann_id)).status == "done"


async def test_a_chunked_announcement_reaches_every_target_once(rt: Runtime) -> None:
    ann, _ = await announcements.create(rt, text="Typhoon: stay in", to="street:1")
    assert ann.target_count == N
    assert len(await OutboxStore(rt).of_origin("announcement", ann.id)) == N
    h = await rt.redis.hgetall(rt.keys("announcement", ann.id))
    assert "enqueue_pending" not in h  # cleared by the last chunk
    assert await rt.redis.zscore(rt.keys("announcements", "scheduled"), ann.id) is None
    async with workers(rt):
        await wait_for(lambda: done(rt, ann.id))
    got = sends(rt)
    assert sorted(t for t, _ in got) == sorted(f"telegram:-{100 + i}" for i in range(N))


async def test_the_scheduler_finishes_an_enqueue_cut_short_by_a_crash(
    rt: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = bulk.enqueue_chunks

    async def crash_after_first_chunk(
        rt: Runtime, key: str, targets: Sequence[str], build: bulk.Build, after: object = None
    ) -> bool:
        await real(rt, key, targets[: bulk.CHUNK], build)
        raise SystemExit("killed")  # the process dies here: nothing after it runs

    monkeypatch.setattr(bulk, "enqueue_chunks", crash_after_first_chunk)
    with pytest.raises(SystemExit):
        await announcements.create(rt, text="Typhoon: stay in", to="street:1")
    monkeypatch.setattr(bulk, "enqueue_chunks", real)
    ann_id = "A-1"
    assert len(await OutboxStore(rt).of_origin("announcement", ann_id)) == bulk.CHUNK
    # Never "done" while the rest is missing, even with every written one sent.
    async with workers(rt):
        await wait_for(lambda: _pending_zero(rt))
        assert (await announcements.get(rt, ann_id)).status == "sending"
        # Not due yet: the creator may still be writing.
        assert await announcements.dispatch_due(rt) == []
        later = time.time() + announce_enqueue.ENQUEUE_GRACE + 1
        assert await announcements.dispatch_due(rt, now=later) == [ann_id]
        await wait_for(lambda: done(rt, ann_id))
    targets = [t for t, _ in sends(rt)]
    assert sorted(targets) == sorted(f"telegram:-{100 + i}" for i in range(N))  # each once


async def _pending_zero(rt: Runtime) -> bool:
    return not any((await OutboxStore(rt).pending()).values())


async def test_an_edit_between_read_and_write_rebuilds_the_chunk(
    rt: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    key = rt.keys("announcement", "A-9")
    await rt.redis.hset(key, mapping={"status": "sending", "text": "old"})
    seen: list[str] = []

    def build(h: dict[str, str], part: Sequence[str]) -> list[OutboxItem] | None:
        seen.append(h["text"])
        return announce_enqueue.items("A-9", part, h["text"], None, Priority.NORMAL, ())

    real_prepare = OutboxStore.prepare

    async def prepare(
        self: OutboxStore, items: Sequence[OutboxItem]
    ) -> tuple[dict[str, str], list[str]]:
        if len(seen) == 2:  # chunk 2, after its WATCHed read and before its write: an edit
            await rt.redis.hset(key, "text", "new")
        return await real_prepare(self, items)

    monkeypatch.setattr(OutboxStore, "prepare", prepare)
    targets = [f"telegram:-{100 + i}" for i in range(N)]
    assert await bulk.enqueue_chunks(rt, key, targets, build)
    # chunk 1 old; chunk 2 built with "old", refused by WATCH, rebuilt with "new"; chunk 3 new
    assert seen == ["old", "old", "new", "new"]
    store = OutboxStore(rt)
    texts = {
        d.target: (await store.message(d)).text
        for d in await store.of_origin("announcement", "A-9")
    }
    assert [texts[t] for t in targets] == ["old"] * 10 + ["new"] * 15


async def test_a_recall_during_the_enqueue_stops_it_and_sends_nothing_more(rt: Runtime) -> None:
    ann, _ = await announcements.create(rt, text="Typhoon", to="street:1", send_at=time.time() + 5)
    assert ann.status == "scheduled"
    calls = 0
    real = announce_enqueue.fail_unconfigured

    async def recall_after_first_chunk(rt_: Runtime, ann_id: str, part: Sequence[str]) -> None:
        nonlocal calls
        calls += 1
        await real(rt_, ann_id, part)
        if calls == 1:
            await announcements.recall(rt, ann.id)

    announce_enqueue.fail_unconfigured = recall_after_first_chunk  # type: ignore[assignment]
    try:
        await announcements.dispatch_due(rt, now=time.time() + 10)
    finally:
        announce_enqueue.fail_unconfigured = real  # type: ignore[assignment]
    written = await OutboxStore(rt).of_origin("announcement", ann.id)
    assert len(written) == bulk.CHUNK  # no chunk after the recall
    assert {d.state for d in written} == {"recalled"}
    async with workers(rt):
        await wait_for(lambda: _pending_zero(rt))
    assert sends(rt) == []
    assert (await announcements.get(rt, ann.id)).status == "recalled"
