"""The asyncio clients pack commands with hiredis: the same bytes as redis-py's Python
packer, the same errors, and real round trips through them."""

from __future__ import annotations

import pytest
from redis.asyncio import Redis
from redis.asyncio.connection import Connection, UnixDomainSocketConnection
from redis.exceptions import DataError

from gateway.redis_packing import use_hiredis_packing
from gateway.runtime import _client

SAMPLES: list[tuple[object, ...]] = [
    ("SET", "k", "v"),
    ("EVALSHA", "a" * 40, 2, "k1", "k2", 1.5, 10**20, "é水", b"\x00\xff", 0.1, -3),
    ("CONFIG GET", "maxmemory"),  # a command name with a space in it
    ("SET", "k", "x" * 100_000),  # past redis-py's buffer cutoff
]


def test_the_same_bytes_as_redis_py_packs_in_python() -> None:
    python = Connection()
    fast = use_hiredis_packing(Redis()).connection_pool.connection_class()
    assert type(fast).__name__ == "HiredisConnection"
    for args in SAMPLES:
        assert b"".join(fast.pack_command(*args)) == b"".join(python.pack_command(*args))


@pytest.mark.parametrize("bad", [True, None, object()])
def test_what_redis_py_refuses_is_refused(bad: object) -> None:
    fast = use_hiredis_packing(Redis()).connection_pool.connection_class()
    with pytest.raises(DataError):
        fast.pack_command("SET", "k", bad)


def test_a_unix_socket_client_keeps_its_connection_kind() -> None:
    client = use_hiredis_packing(Redis(unix_socket_path="/tmp/nothing.sock"))
    assert issubclass(client.connection_pool.connection_class, UnixDomainSocketConnection)


async def test_palm_s_client_round_trips_through_it(redis: Redis) -> None:
    url = redis.connection_pool.connection_kwargs
    client = _client(f"redis://{url['host']}:{url['port']}/{url.get('db', 0)}", decode=True)
    try:
        assert client.connection_pool.connection_class.__name__.startswith("Hiredis")
        await client.set("palm:test:packing", "水 ✅ " * 1000)
        assert await client.get("palm:test:packing") == "水 ✅ " * 1000
        pipe = client.pipeline(transaction=True)
        pipe.incr("palm:test:packing:n").incr("palm:test:packing:n")
        assert await pipe.execute() == [1, 2]
    finally:
        await client.delete("palm:test:packing", "palm:test:packing:n")
        await client.aclose()
