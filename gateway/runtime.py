"""The runtime: config plus a Redis connection, shared by ``palm run`` and the CLI.

``open_runtime`` decides where Redis is: ``redis.url`` when set, else the embedded
server under ``data_dir`` (attached if a ``palm run`` already started it, started
otherwise and stopped again on exit).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

from pydantic import SecretStr
from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.asyncio.sentinel import MasterNotFoundError
from redis.backoff import ExponentialBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError
from redis.exceptions import TimeoutError as RedisTimeoutError

from gateway.adapter import Adapter
from gateway.config import GatewayConfig
from gateway.embedded import EmbeddedRedis
from gateway.errors import StoreUnavailable
from gateway.keys import Keys
from gateway.ops.liveness import instance_name
from gateway.ops.replication import describe, sentinel_clients
from gateway.redis_packing import use_hiredis_packing
from gateway.targets import migrate_tag_keys

__all__ = ["Runtime", "instance_name", "open_runtime"]


@dataclass(slots=True)
class Runtime:
    config: GatewayConfig
    redis: Redis
    """Text client (``decode_responses=True``): what nearly everything uses."""
    redis_bytes: Redis
    """Binary client on the same server, for attachment bytes."""
    keys: Keys
    instance: str
    adapters: dict[str, Adapter] = field(default_factory=dict)
    """Started adapters by platform name; empty outside ``palm run``."""


def _client(url: str, *, decode: bool, password: SecretStr | None = None) -> Redis:
    # Short retries ride out a Redis restart of a second or two; longer outages
    # surface as StoreUnavailable to the caller, which backs off on its own.
    client: Redis = Redis.from_url(
        url,
        password=password.get_secret_value() if password is not None else None,
        decode_responses=decode,
        socket_connect_timeout=5.0,
        socket_timeout=30.0,
        health_check_interval=15,
        retry=Retry(ExponentialBackoff(cap=1.0, base=0.05), 3),
        retry_on_error=[RedisConnectionError, RedisTimeoutError, ConnectionResetError],
    )
    return use_hiredis_packing(client)


@asynccontextmanager
async def open_runtime(config: GatewayConfig) -> AsyncIterator[Runtime]:
    embedded: EmbeddedRedis | None = None
    url = config.redis.url
    sentinel = config.redis.sentinel
    if sentinel is not None:
        redis, redis_bytes = sentinel_clients(sentinel, password=config.redis.password)
        where = describe(sentinel)
    else:
        if url is None:
            embedded = EmbeddedRedis(config.data_dir)
            await embedded.start()
            url = embedded.url
        redis = _client(url, decode=True, password=config.redis.password)
        redis_bytes = _client(url, decode=False, password=config.redis.password)
        where = _safe(url)
    try:
        try:
            await redis.ping()
        except MasterNotFoundError as exc:  # its text is a repr of the whole client
            raise StoreUnavailable(f"redis at {where}: no sentinel names a primary") from exc
        except (RedisError, OSError) as exc:
            raise StoreUnavailable(f"redis at {where} does not answer: {exc}") from exc
        keys = Keys(config.redis.prefix)
        # Every command, not only `palm run`, sees tags in the current key layout.
        await migrate_tag_keys(redis, keys)
        yield Runtime(config, redis, redis_bytes, keys, instance_name())
    finally:
        await redis.aclose()
        await redis_bytes.aclose()
        if embedded is not None:
            await embedded.aclose()


def _safe(url: str) -> str:
    """The URL without a password."""
    scheme, sep, rest = url.partition("://")
    if "@" in rest:
        rest = "***@" + rest.rsplit("@", 1)[1]
    return scheme + sep + rest
