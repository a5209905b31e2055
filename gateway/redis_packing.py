"""hiredis's C command packer on redis-py's asyncio connections.

redis-py's synchronous connections pack commands with hiredis when it is installed
(``redis.connection.HiredisRespSerializer``); its asyncio connections always pack in
Python, byte string by byte string. In the fan-out that packing was the largest single
cost of palm's own CPU (about a quarter of it in ``bench.fanout_headroom``'s profile:
every delivery's few Lua calls carry a dozen arguments each). ``use_hiredis_packing``
gives a client's pool connection classes that pack with redis-py's own hiredis
serializer: the same bytes (bool and None are refused with ``DataError`` as before),
made in C. Without hiredis the client is left as it is.
"""

from __future__ import annotations

from typing import Any

from redis.asyncio import Redis
from redis.connection import HiredisRespSerializer
from redis.utils import HIREDIS_AVAILABLE

__all__ = ["use_hiredis_packing"]

_PACKER = HiredisRespSerializer()
_CLASSES: dict[type[Any], type[Any]] = {}


class _HiredisPacking:
    def pack_command(self, *args: Any) -> list[bytes]:
        return _PACKER.pack(*args)  # type: ignore[no-any-return]


def use_hiredis_packing(client: Redis) -> Redis:
    """``client``, its pool's connections packing commands with hiredis (module doc)."""
    if not HIREDIS_AVAILABLE:
        return client
    pool = client.connection_pool
    base = pool.connection_class
    fast = _CLASSES.get(base)
    if fast is None:
        fast = _CLASSES[base] = type(f"Hiredis{base.__name__}", (_HiredisPacking, base), {})
    pool.connection_class = fast
    return client
