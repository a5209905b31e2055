"""``palm run``: everything in one process, owned by one TaskGroup.

Order: Redis (embedded or URL) -> adapters ``start`` -> HTTP server -> components and
receive loops. SIGINT/SIGTERM cancel the TaskGroup; everything in flight is durable
in Redis, so a cancelled send is simply resumed by the next worker to claim it.
A crashed component cancels the rest and palm exits 1: it never runs half-alive.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
from collections.abc import Awaitable, Callable, Sequence
from functools import partial

from aiohttp import web
from redis.exceptions import RedisError

from adapters.registry import build_adapters
from gateway.adapter import Adapter, AdapterContext
from gateway.components import Component, components, on_reload, on_startup
from gateway.config import GatewayConfig
from gateway.errors import StoreUnavailable
from gateway.http.server import build_app
from gateway.inbound import RedisInboundSink
from gateway.runtime import Runtime, open_runtime

log = logging.getLogger("palm.app")

DRAIN_SECONDS = 8.0
"""After a stop signal, how long tasks get to finish before palm exits anyway."""


class _Stop(Exception):
    """Raised inside the TaskGroup to cancel every task on a stop signal."""


async def _component(name: str, work: Callable[[], Awaitable[None]]) -> None:
    delay = 1.0
    while True:
        try:
            await work()
        except asyncio.CancelledError:
            raise
        except (RedisError, OSError, StoreUnavailable) as exc:
            # Redis is away (an outage, a failover): /readyz says 503 and the component
            # starts again once it answers. Anything else is a crash: palm exits non-zero.
            log.warning(
                "component lost redis; starting it again",
                extra={"component": name, "error": str(exc)[:200], "retry_in": delay},
            )
            await asyncio.sleep(delay)
            delay = min(delay * 2, 10.0)
            continue
        except BaseException:
            log.exception("component crashed", extra={"component": name})
            raise
        # A component returning means it has nothing (more) to do; that is not a crash.
        log.info("component finished", extra={"component": name})
        return


async def _start_adapters(rt: Runtime, adapters: list[Adapter]) -> None:
    sink = RedisInboundSink(rt.redis, rt.keys, replica_acks=rt.config.redis.replica_acks)
    ctx = AdapterContext(rt.redis, rt.keys, sink, rt.instance)
    for adapter in adapters:
        await adapter.start(ctx)
        rt.adapters[adapter.platform] = adapter
        log.info("adapter started", extra={"platform": adapter.platform})


async def _serve_http(rt: Runtime, adapters: list[Adapter]) -> web.AppRunner:
    runner = web.AppRunner(
        build_app(rt, adapters), access_log=None, handle_signals=False, shutdown_timeout=2.0
    )
    await runner.setup()
    site = web.TCPSite(runner, rt.config.http.host, rt.config.http.port)
    await site.start()
    log.info("http listening", extra={"listen": rt.config.http.listen})
    return runner


def _install_signals(rt: Runtime, stop: asyncio.Event) -> None:
    loop = asyncio.get_running_loop()

    def on_stop(signame: str) -> None:
        if stop.is_set():  # a second signal: the operator means it
            log.warning("second stop signal: exiting now")
            os._exit(1)
        log.info("stop signal", extra={"signal": signame})
        stop.set()
        # The last resort: whatever hangs, palm is gone within the promised 10 s.
        loop.call_later(DRAIN_SECONDS + 1.5, os._exit, 0)

    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, on_stop, sig.name)
    loop.add_signal_handler(signal.SIGHUP, lambda: loop.create_task(_reload(rt)))


async def _reload(rt: Runtime) -> None:
    try:
        await on_reload(rt)
        log.info("reloaded")
    except Exception:
        log.exception("reload failed; keeping the previous data")


async def _until(stop: asyncio.Event) -> None:
    await stop.wait()
    raise _Stop


async def run_gateway(
    config: GatewayConfig,
    *,
    ready: asyncio.Event | None = None,
    extra: Sequence[tuple[str, Component]] = (),
) -> int:
    """Run until stopped. Returns the exit code.

    ``extra`` components run beside the built-in ones (embedders and tests use it).
    """
    stop = asyncio.Event()
    async with open_runtime(config) as rt:
        adapters = build_adapters(config)
        runner: web.AppRunner | None = None
        try:
            _install_signals(rt, stop)
            await _start_adapters(rt, adapters)
            await on_startup(rt)
            runner = await _serve_http(rt, adapters)
            if ready is not None:
                ready.set()
            async with asyncio.TaskGroup() as tg:
                tg.create_task(_until(stop))
                for adapter in adapters:
                    tg.create_task(_component(f"{adapter.platform}.receive", adapter.run))
                for name, component in [*components(), *extra]:
                    tg.create_task(_component(name, partial(component, rt)))
        except* _Stop:
            log.info("stopped")
        finally:
            if runner is not None:
                await runner.cleanup()
            for adapter in adapters:
                with contextlib.suppress(Exception):
                    await adapter.aclose()
    return 0
