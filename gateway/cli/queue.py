"""palm queue stats [--json] [--watch] | dead-letters [--json]"""

from __future__ import annotations

import argparse
import asyncio
from typing import Any

from rich.console import Group
from rich.live import Live
from rich.table import Table

from gateway.accounts import views
from gateway.accounts.scope import targets_in_scope
from gateway.cli.as_user import add_as_user, scope_of
from gateway.cli.context import CliContext, add_command, add_group
from gateway.cli.show import cell, when
from gateway.funnel import deadletters
from gateway.targets import TargetDirectory


def _render(stats: dict[str, Any]) -> Group:
    head = Table.grid(padding=(0, 2))
    age = stats["oldest_new_age_seconds"]
    head.add_row(
        f"[bold]depth {stats['depth']}[/]",
        "oldest new: " + ("-" if age is None else f"{int(age)}s"),
    )
    parts: list[Any] = [head]
    for title, key in (
        ("status", "by_status"),
        ("kind", "by_kind"),
        ("category", "by_category"),
        ("priority", "by_priority"),
    ):
        t = Table(title=title, title_justify="left")
        t.add_column(title)
        t.add_column("tickets", justify="right")
        for name, n in sorted(stats[key].items(), key=lambda kv: -kv[1]):
            t.add_row(cell(name), str(n))
        parts.append(t)
    return Group(*parts)


async def _stats(args: argparse.Namespace, cli: CliContext) -> int:
    async with cli.runtime() as rt:
        scope = await scope_of(args, rt)
        if not args.watch:
            stats = await views.scoped_queue_stats(rt, scope)
            if args.json:
                cli.print_json(stats)
            else:
                cli.out.print(_render(stats))
            return 0
        if args.json:  # one JSON document per interval, for scripts
            while True:
                cli.print_json(await views.scoped_queue_stats(rt, scope))
                await asyncio.sleep(args.interval)
        with Live(
            _render(await views.scoped_queue_stats(rt, scope)), console=cli.out, auto_refresh=False
        ) as live:
            while True:
                await asyncio.sleep(args.interval)
                live.update(_render(await views.scoped_queue_stats(rt, scope)), refresh=True)


async def _dead(args: argparse.Namespace, cli: CliContext) -> int:
    async with cli.runtime() as rt:
        scope = await scope_of(args, rt)
        allowed = await targets_in_scope(TargetDirectory(rt.redis, rt.keys), scope)
        items = deadletters.in_scope(await deadletters.parked(rt.redis, rt.keys), allowed)
    if args.json:
        cli.print_json([p.to_json() for p in items])
        return 0
    table = Table("parked", "chat", "from", "message", "why", "answered")
    for p in items:
        message = p.text if p.target is not None else p.raw
        table.add_row(
            when(p.at), cell(p.target or "?"), cell(p.sender or ""), cell(message), cell(p.error),
            "yes" if p.answered else "no",
        )  # fmt: skip
    cli.out.print(table)
    return 0


def register(sub: Any) -> None:
    group = add_group(sub, "queue", help="watch the staff queue")
    p = add_command(
        group, "stats", help="queue depth by status, kind, category, priority", handler=_stats
    )
    p.add_argument("--json", action="store_true", help="print JSON")
    p.add_argument("--watch", action="store_true", help="refresh until interrupted")
    p.add_argument("--interval", type=float, default=2.0, help="seconds between refreshes")
    add_as_user(p)
    p = add_command(
        group, "dead-letters", help="inbound entries the funnel parked, newest first",
        handler=_dead,
    )  # fmt: skip
    p.add_argument("--json", action="store_true", help="print JSON")
    add_as_user(p)
