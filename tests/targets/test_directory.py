"""The targets directory in Redis."""

from __future__ import annotations

import pytest

from gateway.config import TargetSeed
from gateway.errors import InputError, NotFound
from gateway.models import ChatKind, TargetId
from gateway.runtime import Runtime
from gateway.targets import TargetDirectory, seed_targets

T = TargetId("telegram:-100")


async def test_upsert_keeps_tags_and_tracks_state(runtime: Runtime) -> None:
    d = TargetDirectory(runtime.redis, runtime.keys)
    await d.upsert(T, ChatKind.GROUP, "Building 5")
    await d.tag(T, ["building:5", "compound:guanmei"])
    await d.upsert(T, ChatKind.GROUP, None, reason="bot was kicked")
    t = await d.get(T)
    assert t is not None
    assert (t.state, t.reason, t.title) == ("inactive", "bot was kicked", "Building 5")
    assert t.tags == ("building:5", "compound:guanmei")
    assert await d.active_ids() == set()
    await d.upsert(T, ChatKind.GROUP, "Building 5 residents")
    t = await d.get(T)
    assert t is not None
    assert (t.state, t.reason, t.title) == ("active", None, "Building 5 residents")
    assert await d.active_group_ids() == {T}
    assert [x.id for x in await d.list("building:5")] == [T]
    await d.untag(T, ["building:5"])
    assert await d.list("building:5") == []


async def test_direct_chats_are_not_in_star(runtime: Runtime) -> None:
    d = TargetDirectory(runtime.redis, runtime.keys)
    await d.upsert(TargetId("telegram:42"), ChatKind.DIRECT, "Wang")
    assert await d.active_ids() == {"telegram:42"}
    assert await d.active_group_ids() == set()


async def test_bad_tags_and_unknown_targets(runtime: Runtime) -> None:
    d = TargetDirectory(runtime.redis, runtime.keys)
    with pytest.raises(NotFound):
        await d.tag(TargetId("telegram:1"), ["x"])
    await d.upsert(TargetId("telegram:1"), ChatKind.GROUP, None)
    with pytest.raises(InputError, match="cannot contain &"):
        await d.tag(TargetId("telegram:1"), ["a&b"])


async def test_seed_from_config_adds_tags(runtime: Runtime) -> None:
    cfg = runtime.config.model_copy(
        update={"targets": [TargetSeed(id="matrix:!abc:x", tags=["building:5"], title="B5")]}
    )
    rt = Runtime(cfg, runtime.redis, runtime.redis_bytes, runtime.keys, runtime.instance)
    await seed_targets(rt)
    await seed_targets(rt)  # idempotent
    t = await TargetDirectory(rt.redis, rt.keys).get("matrix:!abc:x")
    assert t is not None
    assert (t.title, t.tags, t.active, t.platform) == ("B5", ("building:5",), True, "matrix")
