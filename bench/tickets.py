"""Open tickets for the queue benchmarks, made through the funnel's own store (its Lua)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence

from gateway.funnel.routing import Action, Decision, TicketKind
from gateway.funnel.tickets import TicketStore
from gateway.models import Command
from gateway.rules import rulebook
from gateway.runtime import Runtime


async def apply_open_tickets(rt: Runtime, n: int, targets: Sequence[str] = ()) -> float:
    """``n`` new report tickets, one in ten urgent, spread over ``targets`` (default: one
    group); returns the seconds it took."""
    from tests.funnel.factory import GROUP, message

    chats = list(targets) or [GROUP]
    store = TicketStore(rt.redis, rt.keys)
    rules = rulebook(rt.config.rules_file).rules
    decision = Decision(Action.NEW, TicketKind.REPORT)
    started = time.perf_counter()
    for i in range(0, n, 100):
        batch = [
            message(
                "电梯困人" if j % 10 == 0 else f"灯坏了 {j}",
                command=Command.REPORT,
                user=str(j),
                target=chats[(j // 10) % len(chats)],  # each chat: 1 urgent in 10
            )
            for j in range(i, min(n, i + 100))
        ]
        await asyncio.gather(
            *(store.apply(m, decision, rules.classify(m.text), "zh") for m in batch)
        )
    return time.perf_counter() - started
