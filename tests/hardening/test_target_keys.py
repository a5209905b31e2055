"""Target key names never collide, and tags stored by an older palm are moved once."""

from __future__ import annotations

from redis.asyncio import Redis

from gateway import audience
from gateway.keys import Keys
from gateway.models import ChatKind, TargetId
from gateway.runtime import Runtime
from gateway.targets import TargetDirectory, migrate_tag_keys


async def test_a_target_id_ending_in_tags_does_not_collide(runtime: Runtime) -> None:
    d = TargetDirectory(runtime.redis, runtime.keys)
    room, evil = TargetId("matrix:!a:example.org"), TargetId("matrix:!a:example.org:tags")
    await d.upsert(room, ChatKind.GROUP, "Building 5")
    await d.tag(room, ["building:5"])
    await d.upsert(evil, ChatKind.GROUP, "a room on a server called tags")
    await d.tag(evil, ["other"])
    got_room, got_evil = await d.get(room), await d.get(evil)
    assert got_room is not None
    assert got_evil is not None
    assert (got_room.title, got_room.tags) == ("Building 5", ("building:5",))
    assert (got_evil.title, got_evil.tags) == ("a room on a server called tags", ("other",))
    assert await audience.resolve(d, "building:5") == [room]
    assert await audience.resolve(d, "other") == [evil]
    assert sorted(t.id for t in await d.list()) == [room, evil]


async def _old_layout(redis: Redis, keys: Keys, target: str, tags: list[str]) -> None:
    """What palm before this change wrote for a tagged target."""
    await redis.hset(keys("target", target), mapping={"platform": target.split(":")[0],
                     "kind": "group", "state": "active", "updated_at": "1"})  # fmt: skip
    await redis.sadd(keys("targets", "all"), target)
    await redis.sadd(keys("targets", "active"), target)
    await redis.sadd(keys("target", target, "tags"), *tags)
    for tag in tags:
        await redis.sadd(keys("tag", tag), target)


async def test_tags_written_by_an_older_palm_are_moved_once(runtime: Runtime) -> None:
    r, k = runtime.redis, runtime.keys
    await _old_layout(r, k, "telegram:-1001", ["building:5", "compound:a"])
    await _old_layout(r, k, "telegram:-1002", ["building:6"])
    # An (unlikely) existing target whose id ends in ":tags": its hash must stay a hash.
    await r.hset(k("target", "telegram:-1003", "tags"), mapping={"platform": "telegram"})
    await r.sadd(k("targets", "all"), "telegram:-1003", "telegram:-1003:tags")

    assert await migrate_tag_keys(r, k) == 2
    d = TargetDirectory(r, k)
    one = await d.get("telegram:-1001")
    assert one is not None
    assert one.tags == ("building:5", "compound:a")
    assert await r.exists(k("target", "telegram:-1001", "tags")) == 0
    assert await r.type(k("target", "telegram:-1003", "tags")) == "hash"
    assert await audience.resolve(d, "building:5 | building:6") == [
        "telegram:-1001", "telegram:-1002"
    ]  # fmt: skip

    await r.sadd(k("target", "telegram:-1001", "tags"), "written-late")
    assert await migrate_tag_keys(r, k) == 0  # the marker: runs once
