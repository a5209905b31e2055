"""Encrypted Matrix rooms through `palm run` processes: one owner, kill -9, takeover.

The residents use matrix-nio[e2e] clients (``tests.matrix.resident``); palm's processes
share one Redis and one crypto store directory (as on one host, or a shared volume).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import quote

import nio
import pytest
from redis.asyncio import Redis

from gateway.keys import Keys
from tests.e2e.conftest import Palm, PalmFactory, eventually
from tests.fakes.synapse import Synapse, User
from tests.matrix.conftest import admin, new_user, synapse
from tests.matrix.resident import Resident, resident

__all__ = ["admin", "new_user", "synapse"]

pytestmark = pytest.mark.synapse

LEASE = 4.0


def _matrix(synapse: Synapse, bot: User, store: Path, **extra: Any) -> dict[str, Any]:
    return {
        "homeserver": synapse.url,
        "user_id": bot.user_id,
        "password_env": "PALM_TEST_MATRIX_PASSWORD",
        "auto_join": "any",
        "sync_timeout_ms": 1000,
        "e2e": {"store_dir": str(store), "owner_lease_seconds": LEASE},
        **extra,
    }


def _palm(make_palm: PalmFactory, bot: User, matrix: dict[str, Any], **kw: Any) -> Palm:
    palm = make_palm(matrix=matrix, **kw)
    palm.env["PALM_TEST_MATRIX_PASSWORD"] = bot.password
    return palm


async def _bot_events(user: User, room: str, bot: str) -> list[dict[str, Any]]:
    """The bot's message events in ``room`` as Synapse holds them (encrypted or not)."""
    body = await user.call("GET", f"/rooms/{quote(room)}/messages?dir=b&limit=100")
    return [
        e
        for e in body.get("chunk", [])
        if e.get("sender") == bot and e.get("type") in ("m.room.message", "m.room.encrypted")
    ]


async def _owner(redis: Redis, keys: Keys, bot: User) -> str:
    value = await redis.get(keys("matrix", bot.user_id, "device-lease"))
    return str(value or "")


async def _senders(redis: Redis, keys: Keys, palm: Palm, ann_id: str) -> set[str]:
    """The host:pid of the process that sent each delivery of ``ann_id``."""
    shown = await palm.cli_json("announcements", "show", ann_id)
    owners = set()
    for d in shown["deliveries"]:
        owner = await redis.hget(keys("outbox", "d", d["delivery_id"]), "owner")
        owners.add(":".join(str(owner).split(":")[:2]))
    return owners


async def _rooms(phone: Resident, bot: User, n: int, stem: str) -> list[str]:
    return [await phone.create_room([bot.user_id], name=f"{stem} {i}") for i in range(n)]


async def _active(palm: Palm, rooms: list[str]) -> bool:
    listed = await palm.cli_json("targets", "list")
    targets = listed["targets"] if isinstance(listed, dict) else listed
    active = {t["id"] for t in targets if t["state"] == "active"}
    return all(f"matrix:{r}" in active for r in rooms)


async def _joined(member: User, rooms: list[str], bot: User) -> bool:
    """The bot has joined every room (a seeded target is active before palm's sync
    accepted its invite; a send in between is refused: not in room)."""
    for room in rooms:
        body = await member.call("GET", f"/rooms/{quote(room)}/joined_members")
        if bot.user_id not in body.get("joined", {}):
            return False
    return True


async def _one_decryptable_copy(
    alice: User, phone: Resident, bot: User, room: str, text: str
) -> None:
    evs = [e for e in await _bot_events(alice, room, bot.user_id)]
    assert len(evs) == 1, f"{room}: {len(evs)} copies"
    assert evs[0]["type"] == "m.room.encrypted"
    got = await phone.wait_event(
        lambda e: e.event_id == evs[0]["event_id"] and isinstance(e, nio.RoomMessageText),
        what=f"the decrypted copy in {room}",
    )
    assert isinstance(got, nio.RoomMessageText)
    assert got.body == text


@pytest.mark.slow
async def test_kill9_owner_mid_broadcast_to_30_encrypted_rooms(
    make_palm: PalmFactory,
    synapse: Synapse,
    new_user: Callable[..., Any],
    tmp_path: Path,
) -> None:
    bot: User = await new_user("palmbot")
    alice: User = await new_user("alice")
    async with resident(synapse.url, alice, tmp_path / "alice") as phone:
        rooms = await _rooms(phone, bot, 30, "Building")
        # 3 sends a second: the broadcast lasts ~10 s, long enough to be killed inside.
        matrix = _matrix(
            synapse, bot, tmp_path / "crypto", rate={"messages_per_second": 3, "burst": 1}
        )
        seeds = [{"id": f"matrix:{r}", "tags": ["all"]} for r in rooms]
        palm = _palm(make_palm, bot, matrix, targets=seeds)
        palm.start()
        await palm.ready()
        await eventually(lambda: _active(palm, rooms), limit=60, what="30 active rooms")
        await eventually(lambda: _joined(alice, rooms, bot), limit=60, what="the bot in 30 rooms")

        text = "Water off in all buildings, Tue 9:00-12:00"
        sent = await palm.cli("announce", text, "--to", "all", "--no-wait")
        assert sent.returncode == 0, sent.stderr
        ann_id = sent.stdout.split()[0]

        async def some_sent() -> bool:
            counts = [len(await _bot_events(alice, r, bot.user_id)) for r in rooms]
            return sum(counts) >= 5

        await eventually(some_sent, limit=60, what="a few sends")
        palm.kill9()
        done = sum([len(await _bot_events(alice, r, bot.user_id)) > 0 for r in rooms])
        assert done < 30, "the broadcast finished before the kill"

        palm.start()
        await palm.ready()

        left: list[dict[str, Any]] = []

        async def all_sent() -> bool:
            shown = await palm.cli_json("announcements", "show", ann_id)
            left[:] = [d for d in shown["deliveries"] if d["state"] != "sent"]
            return not left

        try:
            await eventually(all_sent, limit=120, what="every delivery sent after the restart")
        except AssertionError as exc:
            raise AssertionError(f"{exc}: not sent {left}\n{palm.tail(80)}") from None
        for room in rooms:
            await _one_decryptable_copy(alice, phone, bot, room, text)


async def test_two_processes_only_the_owner_sends_and_ownership_moves_after_kill9(
    make_palm: PalmFactory,
    synapse: Synapse,
    new_user: Callable[..., Any],
    redis: Redis,
    keys: Keys,
    tmp_path: Path,
) -> None:
    bot: User = await new_user("palmbot")
    alice: User = await new_user("alice")
    async with resident(synapse.url, alice, tmp_path / "alice") as phone:
        rooms = await _rooms(phone, bot, 4, "Block")
        matrix = _matrix(synapse, bot, tmp_path / "crypto")
        seeds = [{"id": f"matrix:{r}", "tags": ["all"]} for r in rooms]
        first = _palm(make_palm, bot, matrix, targets=seeds, name="first")
        second = _palm(make_palm, bot, matrix, targets=seeds, name="second")
        first.start()
        await first.ready()
        await eventually(lambda: _active(first, rooms), limit=60, what="4 active rooms")
        await eventually(lambda: _joined(alice, rooms, bot), limit=60, what="the bot in 4 rooms")
        assert first.proc is not None
        assert f":{first.proc.pid}:" in await _owner(redis, keys, bot)
        second.start()
        await second.ready()

        text = "Lift maintenance on Thursday"
        sent = await second.cli("announce", text, "--to", "all")
        assert sent.returncode == 0, sent.stderr + first.tail() + second.tail()
        ann_id = sent.stdout.split()[0]
        # Both processes' workers took deliveries; only the owner sent them.
        assert {s.rsplit(":", 1)[1] for s in await _senders(redis, keys, second, ann_id)} == {
            str(first.proc.pid)
        }
        for room in rooms:
            await _one_decryptable_copy(alice, phone, bot, room, text)

        first.kill9()
        assert second.proc is not None
        pid = second.proc.pid

        async def moved() -> bool:
            return f":{pid}:" in await _owner(redis, keys, bot)

        await eventually(moved, limit=LEASE * 3, what="the second process to own the device")
        text2 = "Lift maintenance moved to Friday"
        sent = await second.cli("announce", text2, "--to", "all")
        assert sent.returncode == 0, sent.stderr + second.tail()
        ann2 = sent.stdout.split()[0]
        assert {s.rsplit(":", 1)[1] for s in await _senders(redis, keys, second, ann2)} == {
            str(pid)
        }
        for room in rooms:
            evs = await _bot_events(alice, room, bot.user_id)
            assert len(evs) == 2
            assert all(e["type"] == "m.room.encrypted" for e in evs)
            latest = evs[0]["event_id"]  # /messages pages backwards: newest first
            got = await phone.wait_event(
                lambda e, latest=latest: (
                    e.event_id == latest and isinstance(e, nio.RoomMessageText)
                ),
                what="the decrypted announcement from the new owner",
            )
            assert isinstance(got, nio.RoomMessageText)
            assert got.body == text2
        await asyncio.sleep(0)
