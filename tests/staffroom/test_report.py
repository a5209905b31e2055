"""An announcement sent from a staff room is reported back there once it is out: how
many chats it reached and, per chat it did not, why in words (gateway/staffroom/report.py)."""

from __future__ import annotations

from gateway import announcements
from gateway.errors import PermanentError, TargetGone
from gateway.models import ChatKind, Platform, TargetId
from gateway.outbox import OutboxStore
from gateway.runtime import Runtime
from gateway.staffroom import commands, report
from gateway.targets import TargetDirectory
from tests.fakes.memory_adapter import MemoryAdapter
from tests.outbox.helpers import wait_for, with_outbox, workers
from tests.staffroom.test_drafts import ROOM, _msg, _sent_preview


async def _setup(runtime: Runtime, locale: str) -> tuple[Runtime, MemoryAdapter]:
    cfg = runtime.config.model_copy(update={"locale": locale})
    rt = with_outbox(
        Runtime(cfg, runtime.redis, runtime.redis_bytes, runtime.keys, runtime.instance)
    )
    adapter = MemoryAdapter(platform=Platform("telegram"))
    rt.adapters["telegram"] = adapter
    d = TargetDirectory(rt.redis, rt.keys)
    for chat, title in (("telegram:-1", "1号楼业主群"), ("telegram:-3", "3号楼业主群")):
        await d.upsert(TargetId(chat), ChatKind.GROUP, title)
        await d.tag(TargetId(chat), ["compound:a", "building:1"])
    return rt, adapter


async def _announce(rt: Runtime) -> str:
    await commands.preview(rt, ROOM, _msg("building:1 | 明天停水", "5"))
    await _sent_preview(rt, "5", "50")
    said = await commands.confirm(rt, ROOM, "50", "Zhao", None)
    return said.partition("：")[0].partition(":")[0]


async def _report(rt: Runtime) -> str | None:
    store = OutboxStore(rt)
    sent = await store.get(f"sr:{ROOM.target}:report:A-1")
    return None if sent is None else (await store.message(sent)).text


async def _out(rt: Runtime, ann_id: str) -> bool:
    return (await announcements.get(rt, ann_id)).status == announcements.DONE


async def test_the_room_hears_which_chats_were_not_reached_and_why(runtime: Runtime) -> None:
    rt, adapter = await _setup(runtime, "zh")
    adapter.fail_always("telegram:-3", TargetGone("bot was kicked from the group chat"))
    ann = await _announce(rt)
    assert ann == "A-1"
    assert await report.report_once(rt) == 0  # still queued: nothing to say yet
    async with workers(rt):
        await wait_for(lambda: _out(rt, ann))
        assert await report.report_once(rt) == 1
    assert await _report(rt) == (
        "A-1：已发到 1/2 个会话，1 个未发出：\n• 3号楼业主群：机器人已被移出此会话。"
    )
    assert await report.report_once(rt) == 0  # once
    assert not await rt.redis.exists(rt.keys("staffroom", "reports"))


async def test_all_sent_in_english_and_a_recalled_one_is_not_reported(runtime: Runtime) -> None:
    rt, _ = await _setup(runtime, "en")
    ann = await _announce(rt)
    async with workers(rt):
        await wait_for(lambda: _out(rt, ann))
        assert await report.report_once(rt) == 1
    assert await _report(rt) == "A-1: sent to all 2 chats."

    await report.watch(rt, "A-1", ROOM.target, "5")  # watched again, then recalled
    await rt.redis.hset(rt.keys("announcement", "A-1"), "status", announcements.RECALLED)
    await rt.redis.delete(rt.keys("outbox", "d", f"sr:{ROOM.target}:report:A-1"))
    assert await report.report_once(rt) == 0
    assert await _report(rt) is None
    assert not await rt.redis.exists(rt.keys("staffroom", "reports"))


async def test_a_reason_no_rule_knows_comes_after_the_room_s_own_words(runtime: Runtime) -> None:
    # A staff member reads their language first, then the platform's words to pass on.
    rt, adapter = await _setup(runtime, "zh")
    adapter.fail_always("telegram:-3", PermanentError("Bad Request: wrong file identifier"))
    ann = await _announce(rt)
    async with workers(rt):
        await wait_for(lambda: _out(rt, ann))
        assert await report.report_once(rt) == 1
    assert await _report(rt) == (
        "A-1：已发到 1/2 个会话，1 个未发出：\n"
        "• 3号楼业主群：未送达。平台的原话：Bad Request: wrong file identifier"
    )
