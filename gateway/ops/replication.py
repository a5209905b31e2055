"""Redis high availability: Sentinel clients and ``WAIT`` for replicas.

``WAIT`` counts the replicas that acknowledged the writes *of the connection it runs
on*. palm's clients share a pool, so ``wait_replicas`` writes a probe key and sends
``WAIT`` in one pipeline (one connection): Redis applies commands one at a time, so the
probe's replication offset is past every write that completed before it, whichever
connection made it.
"""

from __future__ import annotations

import logging
from typing import Any

from pydantic import SecretStr
from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError
from redis.exceptions import TimeoutError as RedisTimeoutError

from gateway.errors import StoreUnavailable
from gateway.keys import Keys
from gateway.ops.config import SentinelConfig
from gateway.ops.sentinel import EpochSentinel
from gateway.redis_packing import use_hiredis_packing

log = logging.getLogger("palm.redis")

WAIT_TIMEOUT_MS = 2000
"""How long a confirmation waits for replicas before it counts as not durable."""


async def wait_replicas(
    redis: Redis, keys: Keys, replicas: int, *, timeout_ms: int = WAIT_TIMEOUT_MS
) -> None:
    """Return once ``replicas`` replicas have every write made before this call.

    Raises ``StoreUnavailable`` when fewer acknowledge within ``timeout_ms`` (the caller
    then does not confirm, and the platform sends again; dedupe drops the repeat).
    """
    if replicas <= 0:
        return
    try:
        pipe = redis.pipeline(transaction=False)
        pipe.incr(keys("ops", "wait-probe"))
        pipe.execute_command("WAIT", replicas, timeout_ms)
        _, acked = await pipe.execute()
    except (RedisError, OSError) as exc:
        raise StoreUnavailable(f"redis WAIT: {exc}") from exc
    if int(acked) < replicas:
        raise StoreUnavailable(f"only {acked} of {replicas} replicas acknowledged in time")


def _options(decode: bool) -> dict[str, Any]:
    # As in gateway.runtime: short retries ride out a reconnect; a failover (seconds)
    # surfaces as StoreUnavailable and the callers back off on their own.
    return {
        "decode_responses": decode,
        "socket_connect_timeout": 5.0,
        "socket_timeout": 30.0,
        "health_check_interval": 15,
        "retry": Retry(ExponentialBackoff(cap=1.0, base=0.05), 3),
        "retry_on_error": [RedisConnectionError, RedisTimeoutError, ConnectionResetError],
    }


def sentinel_clients(
    config: SentinelConfig, password: SecretStr | None = None
) -> tuple[Redis, Redis]:
    """A text and a binary client on the primary of ``config.service``.

    redis-py's Sentinel pool asks the sentinels for the primary at every new connection
    (``EpochSentinel``: the newest configuration among most of them) and drops
    connections to a primary that was demoted, so both follow a failover.
    ``password`` is ``redis.password`` (the servers'); ``sentinel.password_env`` wins.
    """
    secret = config.password or password
    password_text = secret.get_secret_value() if secret else None
    sentinel = EpochSentinel(  # type: ignore[no-untyped-call]
        config.addresses(), socket_timeout=2.0, socket_connect_timeout=2.0
    )
    text = sentinel.master_for(config.service, password=password_text, **_options(True))
    binary = sentinel.master_for(config.service, password=password_text, **_options(False))
    return use_hiredis_packing(text), use_hiredis_packing(binary)


def describe(config: SentinelConfig) -> str:
    return f"sentinel {config.service} via {', '.join(config.nodes)}"
