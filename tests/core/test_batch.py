"""The group commit (gateway.batch): concurrent calls share one round trip, each keeps
its own answer and its own error."""

from __future__ import annotations

import asyncio
import secrets
from typing import Any

import pytest
from redis.asyncio import Redis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ResponseError

from gateway.batch import Batcher, for_client
from gateway.keys import Keys

ECHO = "if ARGV[1] == 'boom' then return redis.error_reply('boom') end return ARGV[1]"


def _counting(redis: Redis) -> list[int]:
    """Count the pipelines ``redis`` executes (the round trips of a batcher)."""
    executed: list[int] = []
    make = redis.pipeline

    def pipeline(*a: Any, **kw: Any) -> Any:
        pipe = make(*a, **kw)
        run = pipe.execute

        async def execute(*ea: Any, **ekw: Any) -> Any:
            executed.append(len(pipe.command_stack))
            return await run(*ea, **ekw)

        pipe.execute = execute  # type: ignore[method-assign]
        return pipe

    redis.pipeline = pipeline  # type: ignore[method-assign]
    return executed


async def test_concurrent_calls_share_one_round_trip(redis: Redis, keys: Keys) -> None:
    executed = _counting(redis)
    b = Batcher(redis)
    script = redis.register_script(ECHO)
    await redis.script_load(ECHO)
    key = keys("batch", "k")
    answers = await asyncio.gather(
        *(b.script(script, [key], [str(n)]) for n in range(50)),
        b.call(lambda pipe: pipe.incr(key)),
    )
    assert answers == [*(str(n) for n in range(50)), 1]
    assert executed == [51]  # one pipeline: every call was made before it left


async def test_one_calls_error_is_its_own(redis: Redis, keys: Keys) -> None:
    b = Batcher(redis)
    script = redis.register_script(ECHO)
    res = await asyncio.gather(
        b.script(script, [keys("k")], ["a"]),
        b.script(script, [keys("k")], ["boom"]),
        b.script(script, [keys("k")], ["c"]),
        return_exceptions=True,
    )
    assert res[0] == "a"
    assert res[2] == "c"
    assert isinstance(res[1], ResponseError)
    assert "boom" in str(res[1])


async def test_a_script_redis_does_not_know_is_loaded_and_run(redis: Redis, keys: Keys) -> None:
    # A body no one loaded (a restarted Redis forgets its scripts the same way).
    body = f"-- {secrets.token_hex(8)}\nreturn ARGV[1]"
    script = redis.register_script(body)
    assert await for_client(redis).script(script, [keys("k")], ["x"]) == "x"


async def test_a_lost_connection_fails_every_call_of_the_batch() -> None:
    dead = Redis(host="127.0.0.1", port=1, decode_responses=True, socket_connect_timeout=1)
    b = Batcher(dead)
    res = await asyncio.gather(
        *(b.call(lambda pipe: pipe.get("k")) for _ in range(3)), return_exceptions=True
    )
    assert all(isinstance(r, (RedisConnectionError, OSError)) for r in res), res
    await dead.aclose()


async def test_a_cancelled_caller_leaves_the_others_their_answers(redis: Redis, keys: Keys) -> None:
    b = Batcher(redis)
    key = keys("batch", "c")
    first = asyncio.ensure_future(b.call(lambda pipe: pipe.incr(key)))
    second = asyncio.ensure_future(b.call(lambda pipe: pipe.incr(key)))
    await asyncio.sleep(0)  # both queued, the batch under way
    first.cancel()
    assert await second in (1, 2)
    with pytest.raises(asyncio.CancelledError):
        await first
    # The cancelled call's command went with the batch: cancelling is no undo.
    assert int(await redis.get(key) or 0) == 2
