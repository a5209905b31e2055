"""palm announcements confirmations ID [--by chat|building] [--json] | remind ID [--json]"""

from __future__ import annotations

import argparse
import datetime as dt
from typing import Any

from gateway.cli.context import CliContext, add_command
from gateway.confirm.remind import remind
from gateway.confirm.rollup import Rollup, rollup


async def _confirmations(args: argparse.Namespace, cli: CliContext) -> int:
    async with cli.runtime() as rt:
        report = await rollup(rt, args.id)
    if args.json:
        cli.print_json(report.to_json())
        return 0
    _line(cli, f"{report.announcement} · {report.status} · {report.confirmed} confirmed")
    if args.by == "building":
        _by_building(cli, report)
    else:
        _by_chat(cli, report)
    return 0


def _by_chat(cli: CliContext, report: Rollup) -> None:
    for c in report.chats:
        _line(cli, f"{c.target}  {c.title}  {c.summary()}".replace("    ", "  "))
        if c.pending:
            names = ", ".join(f"{n} ({r})" if n else r for r, n in c.pending)
            _line(cli, f"  not yet: {names}")


def _by_building(cli: CliContext, report: Rollup) -> None:
    for b in report.buildings:
        _line(cli, f"building:{b.building}  {b.confirmed} of {b.households} households confirmed")
        if b.pending:
            _line(cli, "  not yet: " + "; ".join(f"{u} ({', '.join(n)})" for u, n in b.pending))
    if report.unbound_pending:
        _line(cli, f"{report.unbound_pending} residents who have not confirmed have no unit "
                   "(they can send /unit 5-302)")  # fmt: skip


def _n(count: int, noun: str) -> str:
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


def _line(cli: CliContext, text: str) -> None:
    # Plain lines, never wrapped or cut: the names are what staff act on.
    cli.out.print(text, markup=False, highlight=False, soft_wrap=True)


async def _remind(args: argparse.Namespace, cli: CliContext) -> int:
    async with cli.runtime() as rt:
        results = await remind(rt, args.id)
    if args.json:
        cli.print_json([r.to_json() for r in results])
        return 0
    for r in results:
        if r.result == "sent":
            _line(cli, f"{r.target}: reminded {_n(r.names, 'resident')} in "
                       f"{_n(r.messages, 'message')}")  # fmt: skip
        elif r.result == "too soon":
            when = dt.datetime.fromtimestamp(r.next_at or 0, dt.UTC).strftime("%H:%M UTC")
            _line(cli, f"{r.target}: reminded within the hour; next at {when}")
        else:
            _line(cli, f"{r.target}: everyone known there has confirmed")
    return 0


def register_into(group: Any) -> None:
    """Adds to ``palm announcements`` (see ``gateway.cli.announcements``)."""
    p = add_command(group, "confirmations", handler=_confirmations,
                    help="who confirmed a --confirm notice, per chat or building")  # fmt: skip
    p.add_argument("id", help="announcement id, e.g. A-20")
    p.add_argument("--by", choices=("chat", "building"), default="chat")
    p.add_argument("--json", action="store_true", help="print JSON (chats and buildings)")
    p = add_command(group, "remind", handler=_remind,
                    help="mention, in each chat, the residents who have not confirmed")  # fmt: skip
    p.add_argument("id", help="announcement id, e.g. A-20")
    p.add_argument("--json", action="store_true", help="print JSON")
