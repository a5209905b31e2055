"""Chat admission at the core: pending chats are never selected, say one notice, open
no tickets; approve makes them reachable; reject queues the bot's leave."""

from __future__ import annotations

from dataclasses import replace

import pytest

from gateway.admission.gate import Admission
from gateway.admission.leave import Leaver, leaving
from gateway.audience import resolve as resolve_audience
from gateway.errors import AudienceError, InputError, NotFound
from gateway.funnel.tickets import TicketStore
from gateway.models import ChatKind, Command, TargetGone, TargetId, TargetMigrated, TargetSeen
from gateway.outbox.store import OutboxStore
from gateway.runtime import Runtime
from gateway.targets import TargetDirectory, seed_targets
from tests.fakes.memory_adapter import MemoryAdapter
from tests.funnel.conftest import Pipeline
from tests.funnel.factory import direct, message

NEW_GROUP = TargetId("telegram:-100777")
OLD_GROUP = TargetId("telegram:-100555")


async def _admission_deliveries(rt: Runtime) -> list[str]:
    return sorted(d.target for d in await OutboxStore(rt).of_origin("admission", NEW_GROUP))


async def _tickets(rt: Runtime) -> int:
    tickets, _ = await TicketStore(rt.redis, rt.keys).list(limit=500)
    return len(tickets)


async def test_added_group_is_pending_never_selected_and_notified_once(
    gate_funnel: Pipeline, approve_rt: Runtime
) -> None:
    directory = TargetDirectory(approve_rt.redis, approve_rt.keys)
    await directory.upsert(OLD_GROUP, ChatKind.GROUP, "Building 5")  # approved before
    await gate_funnel.feed(TargetSeen(NEW_GROUP, ChatKind.GROUP, "Stranger's group"))
    t = await directory.get(NEW_GROUP)
    assert t is not None
    assert (t.admission, t.state, t.active) == ("pending", "active", False)
    assert await directory.pending_ids() == [NEW_GROUP]
    assert await resolve_audience(directory, "*") == [OLD_GROUP]
    # Added again, and a /report flood: still one notice, and no ticket at all.
    await gate_funnel.feed(TargetSeen(NEW_GROUP, ChatKind.GROUP, "Stranger's group"))
    flood = [message(f"/report {i}", target=NEW_GROUP, command=Command.REPORT) for i in range(20)]
    await gate_funnel.feed(*flood)
    store = OutboxStore(approve_rt)
    notices = await store.of_origin("admission", NEW_GROUP)
    assert [d.delivery_id for d in notices] == [f"admission:{NEW_GROUP}"]
    body = await store.message(notices[0])
    assert "awaiting approval" in body.text or "批准" in body.text
    assert await _tickets(approve_rt) == 0
    assert await approve_rt.redis.xlen(gate_funnel.consumer.stream) == 0  # nothing left over


async def test_message_from_unknown_group_registers_it_pending(
    gate_funnel: Pipeline, approve_rt: Runtime
) -> None:
    await gate_funnel.feed(message("/report leak", target=NEW_GROUP, command=Command.REPORT))
    t = await TargetDirectory(approve_rt.redis, approve_rt.keys).get(NEW_GROUP)
    assert t is not None
    assert t.admission == "pending"
    assert await _tickets(approve_rt) == 0
    assert len(await OutboxStore(approve_rt).of_origin("admission", NEW_GROUP)) == 1


async def test_direct_chats_are_always_admitted(gate_funnel: Pipeline, approve_rt: Runtime) -> None:
    await gate_funnel.feed(TargetSeen(TargetId("telegram:42"), ChatKind.DIRECT, "Li"))
    await gate_funnel.feed(direct("water leak", user="42"))
    t = await TargetDirectory(approve_rt.redis, approve_rt.keys).get("telegram:42")
    assert t is not None
    assert t.active
    assert t.admission == "approved"
    assert await _tickets(approve_rt) == 1


async def test_approve_makes_it_reachable_with_tags(
    gate_funnel: Pipeline, approve_rt: Runtime
) -> None:
    await gate_funnel.feed(TargetSeen(NEW_GROUP, ChatKind.GROUP, "New"))
    directory = TargetDirectory(approve_rt.redis, approve_rt.keys)
    with pytest.raises(AudienceError):
        await resolve_audience(directory, "*")
    t = await Admission(approve_rt).approve(NEW_GROUP, ["building:7"])
    assert t.active
    assert t.tags == ("building:7",)
    assert await resolve_audience(directory, "building:7") == [NEW_GROUP]
    assert await directory.pending_ids() == []
    # Now its /report opens a ticket.
    await gate_funnel.feed(message("/report leak", target=NEW_GROUP, command=Command.REPORT))
    assert await _tickets(approve_rt) == 1
    # A re-add (Matrix re-joins, Telegram promotes the bot) keeps it approved.
    await gate_funnel.feed(TargetSeen(NEW_GROUP, ChatKind.GROUP, "New"))
    assert await resolve_audience(directory, "*") == [NEW_GROUP]


async def test_reject_queues_the_leave_and_the_leaver_leaves(
    gate_funnel: Pipeline, approve_rt: Runtime
) -> None:
    await gate_funnel.feed(TargetSeen(NEW_GROUP, ChatKind.GROUP, "Spam"))
    t = await Admission(approve_rt).reject(NEW_GROUP)
    assert t.admission == "rejected"
    assert not t.active
    assert await leaving(approve_rt) == [NEW_GROUP]
    leaver = Leaver(approve_rt)
    assert await leaver.step() == 0  # no Telegram adapter in this process: left for another
    adapter = MemoryAdapter()
    approve_rt.adapters["telegram"] = adapter
    assert await leaver.step() == 1
    assert adapter.left == [NEW_GROUP]
    assert await leaving(approve_rt) == []
    gone = await TargetDirectory(approve_rt.redis, approve_rt.keys).get(NEW_GROUP)
    assert gone is not None
    assert (gone.state, gone.admission) == ("inactive", "rejected")
    # Someone adds the bot back: it stays rejected and the bot leaves again.
    await gate_funnel.feed(TargetSeen(NEW_GROUP, ChatKind.GROUP, "Spam"))
    assert await leaver.step() == 1
    assert adapter.left == [NEW_GROUP, NEW_GROUP]
    assert len(await OutboxStore(approve_rt).of_origin("admission", NEW_GROUP)) == 1


async def test_leave_errors_retry_or_are_recorded(approve_rt: Runtime) -> None:
    from gateway.errors import NetworkError, Rejected

    directory = TargetDirectory(approve_rt.redis, approve_rt.keys)
    await directory.upsert(NEW_GROUP, ChatKind.GROUP, "x", new_admission="pending")
    adapter = MemoryAdapter()
    failures = iter([NetworkError("down", retry_after=0.0), Rejected("nope")])

    async def leave(target: TargetId) -> None:
        raise next(failures)

    adapter.leave = leave  # type: ignore[method-assign]
    approve_rt.adapters["telegram"] = adapter
    await Admission(approve_rt).reject(NEW_GROUP)
    leaver = Leaver(approve_rt)
    assert await leaver.step() == 0  # retryable: kept
    assert await leaving(approve_rt) == [NEW_GROUP]
    assert await leaver.step() == 1  # permanent: recorded on the target, not dropped silently
    t = await directory.get(NEW_GROUP)
    assert t is not None
    assert t.reason is not None
    assert "could not leave: nope" in t.reason


async def test_approved_again_before_the_leave_cancels_it(
    gate_funnel: Pipeline, approve_rt: Runtime
) -> None:
    await gate_funnel.feed(TargetSeen(NEW_GROUP, ChatKind.GROUP, "x"))
    admission = Admission(approve_rt)
    await admission.reject(NEW_GROUP)
    await admission.approve(NEW_GROUP)
    approve_rt.adapters["telegram"] = adapter = MemoryAdapter()
    await Leaver(approve_rt).step()
    assert adapter.left == []
    assert await leaving(approve_rt) == []


async def test_admin_errors(gate_funnel: Pipeline, approve_rt: Runtime) -> None:
    admission = Admission(approve_rt)
    with pytest.raises(NotFound):
        await admission.approve(NEW_GROUP)
    await gate_funnel.feed(TargetSeen(TargetId("telegram:42"), ChatKind.DIRECT, "Li"))
    with pytest.raises(InputError, match="always admitted"):
        await admission.reject(TargetId("telegram:42"))
    await gate_funnel.feed(TargetSeen(NEW_GROUP, ChatKind.GROUP, "x"))
    with pytest.raises(InputError):
        await admission.approve(NEW_GROUP, ["bad tag"])
    t = await TargetDirectory(approve_rt.redis, approve_rt.keys).get(NEW_GROUP)
    assert t is not None
    assert t.admission == "pending"


async def test_upgrade_keeps_old_targets_active_and_seeds_are_approved(
    approve_rt: Runtime,
) -> None:
    # A target hash from before admission: no `admission` field.
    r, k = approve_rt.redis, approve_rt.keys
    await r.hset(k("target", OLD_GROUP), mapping={"platform": "telegram", "kind": "group",
                 "state": "active", "reason": "", "updated_at": "1"})  # fmt: skip
    await r.sadd(k("targets", "all"), OLD_GROUP)
    await r.sadd(k("targets", "active"), OLD_GROUP)
    await r.sadd(k("targets", "active", "group"), OLD_GROUP)
    directory = TargetDirectory(r, k)
    admission = Admission(approve_rt)
    await admission.seen(TargetSeen(OLD_GROUP, ChatKind.GROUP, "Building 5"))
    t = await directory.get(OLD_GROUP)
    assert t is not None
    assert t.active
    assert t.admission == "approved"
    # A seeded chat that registered itself as pending first is approved by the seed.
    await admission.seen(TargetSeen(NEW_GROUP, ChatKind.GROUP, "Seeded"))
    from gateway.config import TargetSeed

    cfg = approve_rt.config.model_copy(
        update={"targets": [TargetSeed(id=NEW_GROUP, tags=["building:9"])]}
    )
    await seed_targets(Runtime(cfg, r, r, k, approve_rt.instance))
    assert await resolve_audience(directory, "building:9") == [NEW_GROUP]


async def test_migration_keeps_pending_and_unknown_gone_is_not_approved(
    gate_funnel: Pipeline, approve_rt: Runtime
) -> None:
    directory = TargetDirectory(approve_rt.redis, approve_rt.keys)
    await gate_funnel.feed(TargetSeen(TargetId("telegram:-777"), ChatKind.GROUP, "small"))
    await gate_funnel.feed(TargetMigrated(TargetId("telegram:-777"), NEW_GROUP))
    t = await directory.get(NEW_GROUP)
    assert t is not None
    assert t.admission == "pending"
    assert not t.active
    # The bot removed from a chat palm never knew, then added back: still needs approval.
    other = TargetId("telegram:-100999")
    await gate_funnel.feed(TargetGone(other, "bot was kicked"))
    await gate_funnel.feed(TargetSeen(other, ChatKind.GROUP, "back"))
    t = await directory.get(other)
    assert t is not None
    assert t.admission == "pending"


async def test_a_group_seeded_without_a_name_gets_the_platforms_name(
    gate_funnel: Pipeline, approve_rt: Runtime
) -> None:
    directory = TargetDirectory(approve_rt.redis, approve_rt.keys)
    await directory.upsert(OLD_GROUP, ChatKind.GROUP, None)  # seeded: no name
    await gate_funnel.feed(message("no title given", target=OLD_GROUP))
    t = await directory.get(OLD_GROUP)
    assert t is not None
    assert t.title is None
    named = replace(message("hello", target=OLD_GROUP), chat_title="5号楼业主群")
    await gate_funnel.feed(named)
    t = await directory.get(OLD_GROUP)
    assert t is not None
    assert t.title == "5号楼业主群"
    # A name palm has (from the config, or this one) is kept.
    other = replace(message("hi", target=OLD_GROUP), chat_title="Group -100555")
    await gate_funnel.feed(other)
    t = await directory.get(OLD_GROUP)
    assert t is not None
    assert t.title == "5号楼业主群"
    # A removed target never comes back as a hash with only a title.
    await directory.retitle(NEW_GROUP, "ghost")
    assert await approve_rt.redis.exists(approve_rt.keys("target", NEW_GROUP)) == 0


async def test_open_mode_keeps_the_old_behaviour(funnel: Pipeline, runtime: Runtime) -> None:
    await funnel.feed(TargetSeen(NEW_GROUP, ChatKind.GROUP, "New"))
    directory = TargetDirectory(runtime.redis, runtime.keys)
    assert await resolve_audience(directory, "*") == [NEW_GROUP]
    assert await OutboxStore(runtime).of_origin("admission", NEW_GROUP) == []


async def test_direct_room_that_becomes_a_group_waits_for_approval(
    gate_funnel: Pipeline, approve_rt: Runtime
) -> None:
    room = TargetId("matrix:!dm:localhost")
    directory = TargetDirectory(approve_rt.redis, approve_rt.keys)
    await gate_funnel.feed(TargetSeen(room, ChatKind.DIRECT, None))
    t = await directory.get(room)
    assert t is not None
    assert t.admission == "approved"
    # It gained a name and members: now a group, and `*` must not reach it unapproved.
    await gate_funnel.feed(TargetSeen(room, ChatKind.GROUP, "Now a group"))
    t = await directory.get(room)
    assert t is not None
    assert (t.kind, t.admission, t.active) == (ChatKind.GROUP, "pending", False)
    assert len(await OutboxStore(approve_rt).of_origin("admission", room)) == 1
    # Approved as a group, it stays approved when seen again.
    await Admission(approve_rt).approve(room)
    await gate_funnel.feed(TargetSeen(room, ChatKind.GROUP, "Now a group"))
    assert await resolve_audience(directory, "*") == [room]
