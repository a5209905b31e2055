"""Staff accounts: argon2id hashes in Redis, verify, passwd, disable."""

from __future__ import annotations

import pytest
from argon2 import PasswordHasher

from gateway.accounts import Role, UserStore
from gateway.errors import Conflict, InputError, NotFound
from gateway.runtime import Runtime

FAST = PasswordHasher(time_cost=1, memory_cost=8192, parallelism=1)


@pytest.fixture
def store(runtime: Runtime) -> UserStore:
    return UserStore(runtime.redis, runtime.keys, FAST)


async def test_create_verify_and_hash_in_redis(runtime: Runtime) -> None:
    store = UserStore(runtime.redis, runtime.keys)  # argon2-cffi's defaults
    user = await store.create("wang", Role.STAFF, "correct horse", scope="compound:a")
    assert (user.role, user.scope, user.disabled) == (Role.STAFF, "compound:a", False)
    stored = await runtime.redis.hget(runtime.keys("user", "wang"), "password")
    assert stored is not None
    assert stored.startswith("$argon2id$")
    assert "correct horse" not in str(await runtime.redis.hgetall(runtime.keys("user", "wang")))
    assert await store.verify("wang", "correct horse") == user
    assert await store.verify("wang", "wrong horse!") is None
    assert await store.verify("nobody", "correct horse") is None
    p = user.principal()
    assert (p.name, p.kind, p.scope and p.scope.expr) == ("wang", "user", "compound:a")


async def test_duplicate_and_bad_input(store: UserStore) -> None:
    await store.create("li", Role.VIEWER, "12345678")
    with pytest.raises(Conflict):
        await store.create("li", Role.ADMIN, "12345678")
    with pytest.raises(InputError, match="at least 8"):
        await store.create("zhao", Role.VIEWER, "short")
    with pytest.raises(InputError, match="scope"):
        await store.create("zhao", Role.VIEWER, "12345678", scope="(")
    assert [u.name for u in await store.list()] == ["li"]


async def test_passwd_and_disable(store: UserStore) -> None:
    await store.create("li", Role.STAFF, "first password")
    await store.set_password("li", "second password")
    assert await store.verify("li", "first password") is None
    assert await store.verify("li", "second password") is not None
    await store.disable("li")
    assert await store.verify("li", "second password") is None
    user = await store.get("li")
    assert user is not None
    assert user.disabled
    with pytest.raises(NotFound):
        await store.disable("nobody")


async def test_old_parameters_are_rehashed_on_sign_in(runtime: Runtime) -> None:
    await UserStore(runtime.redis, runtime.keys, FAST).create("li", Role.STAFF, "a password")
    key = runtime.keys("user", "li")
    before = await runtime.redis.hget(key, "password")
    stronger = PasswordHasher(time_cost=2, memory_cost=8192, parallelism=1)
    assert await UserStore(runtime.redis, runtime.keys, stronger).verify("li", "a password")
    after = await runtime.redis.hget(key, "password")
    assert after != before
    assert after is not None
    assert "t=2" in after


async def test_names_and_passwords_no_store_could_hold(store: UserStore) -> None:
    await store.create("li", Role.STAFF, "a password")
    with pytest.raises(InputError, match="valid Unicode"):
        await store.create("zhao", Role.STAFF, "pass\udcffword")
    with pytest.raises(InputError, match="printable"):
        await store.create("zh\udcffao", Role.STAFF, "a password")
    assert await store.get("li\udcff") is None
    assert await store.verify("li\udcff", "a password") is None
    assert await store.verify("li", "a pass\udcffword") is None
    with pytest.raises(NotFound):
        await store.disable("\udcff")
