"""The long-running parts of ``palm run``, besides the adapters' receive loops.

Each component is a coroutine function taking the ``Runtime`` that runs until it is
cancelled. ``gateway.app`` runs them all in one ``TaskGroup``: if one crashes, the
others are cancelled and palm exits non-zero instead of running half-alive.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from gateway.runtime import Runtime

Component = Callable[[Runtime], Awaitable[None]]


def components() -> list[tuple[str, Component]]:
    return []


async def on_startup(rt: Runtime) -> None:
    """One-off work after Redis and the adapters are up, before components start."""


async def on_reload(rt: Runtime) -> None:
    """SIGHUP: reload data files (rules, templates)."""
