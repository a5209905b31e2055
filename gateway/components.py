"""The long-running parts of ``palm run``, besides the adapters' receive loops.

Each component is a coroutine function taking the ``Runtime`` that runs until it is
cancelled. ``gateway.app`` runs them all in one ``TaskGroup``: if one crashes, the
others are cancelled and palm exits non-zero instead of running half-alive.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from gateway.runtime import Runtime

if TYPE_CHECKING:
    from gateway.outbox import DeliveryHook

Component = Callable[[Runtime], Awaitable[None]]


def delivery_hooks() -> dict[str, DeliveryHook]:
    """Called with each delivery's final result, by origin ("announcement", "ticket")."""
    from gateway.confirm.delivery import on_delivery
    from gateway.funnel.staff import ticket_delivery_hook

    return {"ticket": ticket_delivery_hook, "announcement": on_delivery}


def components() -> list[tuple[str, Component]]:
    from gateway.admission.leave import run_leaver
    from gateway.announcements import run_scheduler
    from gateway.confirm.inbound import on_inbound as confirm_hook
    from gateway.console.samples import run_sampler
    from gateway.funnel.consumer import run_funnel
    from gateway.households.chat import on_inbound as households_hook
    from gateway.ops.menu import run_command_menu
    from gateway.ops.retention import run_prune
    from gateway.outbox import run_workers
    from gateway.polls.inbound import on_inbound as polls_hook
    from gateway.polls.service import run_closer
    from gateway.staffroom.acting import on_inbound
    from gateway.staffroom.feed import run_feed
    from gateway.staffroom.parked import post_cards
    from gateway.work import run_work

    return [
        ("admission", run_leaver),  # leaves rejected chats
        ("outbox", lambda rt: run_workers(rt, delivery_hooks())),
        ("scheduler", run_scheduler),
        (
            "funnel",
            lambda rt: run_funnel(
                rt, [on_inbound, households_hook, polls_hook, confirm_hook], [post_cards]
            ),
        ),
        ("polls", run_closer),
        ("staffroom", run_feed),
        ("command-menu", run_command_menu),
        ("work", run_work),
        ("console.samples", run_sampler),
        ("retention", run_prune),  # outbox.keep_days; idle when 0
    ]


async def on_startup(rt: Runtime) -> None:
    """One-off work after Redis and the adapters are up, before components start."""
    from gateway.staffroom.scope import check_scopes
    from gateway.targets import seed_targets

    check_scopes(rt.config.staff_rooms)
    await seed_targets(rt)
    from gateway.funnel.consumer import prepare_funnel

    await prepare_funnel(rt)


async def on_reload(rt: Runtime) -> None:
    """SIGHUP: reload data files (rules, templates)."""
    from gateway.funnel.consumer import reload_funnel

    reload_funnel(rt)
