"""palm queue stats [--json] [--watch] | dead-letters [--json] [--retry ENTRY | --retry-all |
--handled ENTRY]"""

from __future__ import annotations

import argparse
import asyncio
import sys
from typing import Any

from rich.console import Group
from rich.live import Live
from rich.table import Table

from gateway.accounts import views
from gateway.accounts.scope import targets_in_scope
from gateway.cli.as_user import add_as_user, scope_of
from gateway.cli.context import CliContext, add_command, add_group
from gateway.cli.show import cell, when
from gateway.cli.tickets import STAFF_ENV, actor
from gateway.errors import GatewayError
from gateway.funnel import deadletters, parked_actions
from gateway.runtime import Runtime
from gateway.safety.inert import visible
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
        acts = [("retry", e) for e in args.retry] + [("handled", e) for e in args.handled]
        if args.retry_all:
            acts += [("retry", p.entry) for p in items if p.target is not None]
        if acts:
            return await _act(cli, rt, items, acts, actor(args))
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


async def _act(
    cli: CliContext,
    rt: Runtime,
    items: list[deadletters.Parked],
    acts: list[tuple[str, str]],
    by: str,
) -> int:
    """``--retry`` / ``--handled``: each entry in turn; one that fails is reported and
    the rest still done (exit 1 if any failed)."""
    failed = 0
    for name, entry in acts:
        try:
            p = parked_actions.pick(items, entry)
            done = await parked_actions.act(rt, p, parked_actions.ACTIONS[name], by=by)
        except GatewayError as exc:
            print(visible(f"palm: {entry}: {exc.message}", one_line=True), file=sys.stderr)
            failed += 1
        else:
            cli.out.print(cell(f"{entry}: {done['done']}"))
    return 1 if failed else 0


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
    p.add_argument(
        "--retry",
        action="append",
        default=[],
        metavar="ENTRY",
        help="put the entry back on the inbound stream (repeatable)",
    )
    p.add_argument(
        "--retry-all", action="store_true", help="retry every readable entry (after a fix)"
    )
    p.add_argument(
        "--handled",
        action="append",
        default=[],
        metavar="ENTRY",
        help="mark the entry handled: it leaves the list (repeatable)",
    )
    p.add_argument("--as", dest="as_name", metavar="NAME", help=f"your name, logged (${STAFF_ENV})")
    add_as_user(p)
