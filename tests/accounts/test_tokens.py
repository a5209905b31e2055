"""Token store: create, list, revoke, expiry, last_used gate, legacy tokens."""

from __future__ import annotations

import time

import pytest

from gateway.accounts import Role, TokenStore
from gateway.accounts.durations import parse_duration
from gateway.accounts.tokens import _digest
from gateway.errors import Conflict, InputError, NotFound, Unauthorized
from gateway.runtime import Runtime


@pytest.fixture
def store(runtime: Runtime) -> TokenStore:
    return TokenStore(runtime.redis, runtime.keys)


async def test_create_authenticate_list_revoke(store: TokenStore) -> None:
    token = await store.create("wang", Role.STAFF, "compound:a &  building:5")
    p = await store.authenticate(token)
    assert (p.name, p.role, p.kind) == ("wang", Role.STAFF, "token")
    assert p.scope is not None
    assert p.scope.expr == "compound:a & building:5"
    plain = await store.create("ops", Role.ADMIN)  # the old two-argument call still works
    assert (await store.authenticate(plain)).scope is None
    infos = await store.list()
    assert [i.name for i in infos] == ["ops", "wang"]
    assert infos[1].scope == "compound:a & building:5"
    assert infos[1].expires is None
    assert token not in str([i.to_json() for i in infos])
    await store.revoke("wang")
    with pytest.raises(Unauthorized, match="revoked"):
        await store.authenticate(token)
    with pytest.raises(NotFound):
        await store.revoke("wang")
    assert [i.name for i in await store.list()] == ["ops"]


async def test_names_are_unique_until_revoked(store: TokenStore) -> None:
    await store.create("wang", Role.STAFF)
    with pytest.raises(Conflict):
        await store.create("wang", Role.VIEWER)
    await store.revoke("wang")
    await store.create("wang", Role.VIEWER)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"name": " "}, "name"),
        ({"name": "x" * 65}, "name"),
        ({"name": "a\nb"}, "name"),
        ({"scope": "compound:a &"}, "scope: .*column 13"),
        ({"expires_in": 0.0}, "expires"),
    ],
)
async def test_bad_input(store: TokenStore, kwargs: dict[str, object], message: str) -> None:
    args: dict[str, object] = {"name": "t", "role": Role.STAFF, **kwargs}
    with pytest.raises(InputError, match=message):
        await store.create(**args)  # type: ignore[arg-type]


async def test_expired_token_is_refused(store: TokenStore, runtime: Runtime) -> None:
    token = await store.create("short", Role.VIEWER, expires_in=60)
    await store.authenticate(token)
    # Move the expiry into the past, as the clock would.
    await runtime.redis.hset(runtime.keys("token", _digest(token)), "expires", repr(time.time()))
    with pytest.raises(Unauthorized, match="expired"):
        await store.authenticate(token)
    assert (await store.list())[0].expired


async def test_last_used_is_written_at_most_once_a_minute(
    store: TokenStore, runtime: Runtime
) -> None:
    token = await store.create("busy", Role.VIEWER)
    assert (await store.list())[0].last_used is None
    key = runtime.keys("token", _digest(token))
    await store.authenticate(token)
    first = (await store.list())[0].last_used
    assert first is not None
    await runtime.redis.hset(key, "last_used", "1.0")  # a marker the next calls must not touch
    for _ in range(20):
        await store.authenticate(token)
    assert await runtime.redis.hget(key, "last_used") == "1.0"
    ttl = await runtime.redis.ttl(runtime.keys("token", _digest(token), "seen"))
    assert 0 < ttl <= 60
    await runtime.redis.delete(runtime.keys("token", _digest(token), "seen"))  # a minute later
    await store.authenticate(token)
    assert float(await runtime.redis.hget(key, "last_used") or 0) >= first


async def test_unknown_tokens_write_nothing(store: TokenStore, runtime: Runtime) -> None:
    for bad in ("palm_nope", "x" * 5000, "\udcff"):
        with pytest.raises(Unauthorized):
            await store.authenticate(bad)
    assert [k async for k in runtime.redis.scan_iter(match=runtime.keys.prefix + "*")] == []


async def test_legacy_token_keeps_working_and_joins_the_list(
    store: TokenStore, runtime: Runtime
) -> None:
    token = "palm_legacy"
    await runtime.redis.hset(
        runtime.keys("token", _digest(token)),
        mapping={"name": "bench", "role": "admin", "created": "1.0"},
    )
    p = await store.authenticate(token)
    assert (p.name, p.role, p.scope) == ("bench", Role.ADMIN, None)
    assert [i.name for i in await store.list()] == ["bench"]
    await store.revoke("bench")
    with pytest.raises(Unauthorized):
        await store.authenticate(token)


@pytest.mark.parametrize(
    ("text", "seconds"), [("90d", 90 * 86400), ("12h", 43200), ("30m", 1800), ("1d12h", 129600)]
)
def test_durations(text: str, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "90", "d", "-1d", "0m", "1y", "1.5h", "99999999d"])
def test_bad_durations(text: str) -> None:
    with pytest.raises(InputError, match="duration"):
        parse_duration(text)


async def test_names_and_scopes_no_store_could_hold(store: TokenStore) -> None:
    with pytest.raises(InputError, match="printable"):
        await store.create("ci\udcff", Role.VIEWER)
    with pytest.raises(InputError, match="scope: not valid Unicode"):
        await store.create("ci", Role.VIEWER, "building:\udcff")
    with pytest.raises(NotFound):
        await store.revoke("ci\udcff")
