"""``palm run``: everything in one process, owned by one TaskGroup.

Order: Redis (embedded or URL) -> adapters ``start`` -> HTTP server -> components and
receive loops. SIGINT/SIGTERM cancel the TaskGroup; everything in flight is durable
in Redis, so a cancelled send is simply resumed by the next worker to claim it.
A crashed component cancels the rest and palm exits 1: it never runs half-alive.

``--role`` splits the work between processes on one Redis (see ``Role``): in one
process the funnel, the outbox and the staff feed share the event loop with the
webhook handlers, and under a reply flood they took most of it (bench/README.md,
``bench.ingest``), so a resident's update waited behind acknowledgements.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import gc
import logging
import os
import signal
from collections.abc import Awaitable, Callable, Sequence
from functools import partial

from aiohttp import web
from redis.exceptions import RedisError

from adapters.registry import build_adapters
from gateway.adapter import Adapter, AdapterContext
from gateway.aio import TaskGroup, checkpoint
from gateway.components import Component, components, on_reload, on_startup
from gateway.config import GatewayConfig
from gateway.errors import ConfigError, StoreUnavailable
from gateway.http.server import build_app
from gateway.inbound import RedisInboundSink
from gateway.ops import dump
from gateway.runtime import Runtime, open_runtime

log = logging.getLogger("palm.app")

DRAIN_SECONDS = 8.0
"""After a stop signal, how long tasks get to finish before palm exits anyway."""


class Role(enum.StrEnum):
    """``palm run --role``: which part of the gateway this process runs."""

    ALL = "all"
    """Everything (the default)."""
    INGEST = "ingest"
    """Only the platform webhooks (store the update durably, answer 200) and the
    health routes: no API, no console, no components, no receive loops."""
    WORK = "work"
    """Everything but the webhooks: API, console, components, and the receive loops
    that pull (Telegram long polling, Matrix sync; a Matrix device owner must be a
    process that also sends, see adapters/matrix/owner.py)."""


class _Stop(Exception):
    """Raised inside the TaskGroup to cancel every task on a stop signal."""


async def _component(name: str, work: Callable[[], Awaitable[None]]) -> None:
    delay = 1.0
    while True:
        checkpoint()
        try:
            await work()
        except asyncio.CancelledError:
            raise
        except BaseException as exc:
            # Redis is away (an outage, a failover): /readyz says 503 and the component
            # starts again once it answers. Anything else is a crash: palm exits non-zero.
            if not _redis_away(exc):
                log.exception("component crashed", extra={"component": name})
                raise
            log.warning(
                "component lost redis; starting it again",
                extra={"component": name, "error": str(_leaf(exc))[:200], "retry_in": delay},
            )
            await asyncio.sleep(delay)
            delay = min(delay * 2, 10.0)
            continue
        # A component returning means it has nothing (more) to do; that is not a crash.
        log.info("component finished", extra={"component": name})
        return


def _redis_away(exc: BaseException) -> bool:
    """Whether ``exc`` says only that Redis is away. A component that runs a TaskGroup
    raises its tasks' errors as a group: it counts when every error in it does (the
    group is ``gateway.aio.TaskGroup``, which leaves the task able to go on)."""
    if isinstance(exc, BaseExceptionGroup):
        return all(_redis_away(e) for e in exc.exceptions)
    return isinstance(exc, (RedisError, OSError, StoreUnavailable))


def _leaf(exc: BaseException) -> BaseException:
    """The first error inside nested groups: the one worth a log line."""
    while isinstance(exc, BaseExceptionGroup) and exc.exceptions:
        exc = exc.exceptions[0]
    return exc


def _adapters_for(config: GatewayConfig, role: Role) -> list[Adapter]:
    adapters = build_adapters(config)
    if role is not Role.INGEST:
        return adapters
    # An ingest process only answers webhooks: an adapter without one has nothing to do
    # there (and a Matrix login would be one more device session for nothing).
    hooked = [a for a in adapters if a.routes()]
    if not hooked:
        raise ConfigError(
            "palm run --role ingest: no platform receives by webhook "
            "(platforms.telegram.mode: webhook, with platforms.telegram.webhook)",
            key="platforms",
        )
    return hooked


async def _start_adapters(rt: Runtime, adapters: list[Adapter]) -> None:
    sink = RedisInboundSink(rt.redis, rt.keys, replica_acks=rt.config.redis.replica_acks)
    ctx = AdapterContext(rt.redis, rt.keys, sink, rt.instance)
    for adapter in adapters:
        await adapter.start(ctx)
        rt.adapters[adapter.platform] = adapter
        log.info("adapter started", extra={"platform": adapter.platform})


async def _serve_http(rt: Runtime, adapters: list[Adapter], role: Role) -> web.AppRunner:
    app = build_app(rt, adapters, api=role is not Role.INGEST, webhooks=role is not Role.WORK)
    runner = web.AppRunner(app, access_log=None, handle_signals=False, shutdown_timeout=2.0)
    await runner.setup()
    site = web.TCPSite(runner, rt.config.http.host, rt.config.http.port)
    await site.start()
    log.info("http listening", extra={"listen": rt.config.http.listen, "role": role.value})
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
    dump.install(loop)


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
    role: Role = Role.ALL,
) -> int:
    """Run until stopped. Returns the exit code.

    ``extra`` components run beside the built-in ones (embedders and tests use it), in
    every role.
    """
    adapters = _adapters_for(config, role)
    stop = asyncio.Event()
    async with open_runtime(config) as rt:
        runner: web.AppRunner | None = None
        try:
            _install_signals(rt, stop)
            await _start_adapters(rt, adapters)
            if role is not Role.INGEST:
                await on_startup(rt)
            runner = await _serve_http(rt, adapters, role)
            # Everything loaded so far (modules, PTB, pydantic, the config) lives as long
            # as the process: out of the collector's sight, a full collection no longer
            # walks it (it paused the event loop for ~70 ms, long enough to bunch
            # rate-limited sends past their platform's window).
            gc.freeze()
            if ready is not None:
                ready.set()
            builtin = components() if role is not Role.INGEST else []
            async with TaskGroup() as tg:
                tg.create_task(_until(stop))
                for adapter in adapters if role is not Role.INGEST else ():
                    tg.create_task(_component(f"{adapter.platform}.receive", adapter.run))
                for name, component in [*builtin, *extra]:
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
