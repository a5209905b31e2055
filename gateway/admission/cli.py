"""palm targets pending [--json] | approve ID [--tag T]... | reject ID"""

from __future__ import annotations

import argparse
import datetime as dt
from typing import Any

from rich.markup import escape
from rich.table import Table

from gateway.admission.gate import Admission
from gateway.cli.context import CliContext, add_command
from gateway.targets import Target, parse_target_id
from gateway.targets_lua import APPROVED


def target_state(t: Target) -> str:
    """How ``palm targets list`` shows a target's state (rich markup; the reason, which
    may quote a platform, is escaped)."""
    reason = escape(t.reason or "")
    if t.admission != APPROVED:
        return f"[yellow]{t.admission}[/yellow]" + (f": {reason}" if reason else "")
    return "active" if t.active else f"[red]inactive[/red]: {reason}"


async def _pending(args: argparse.Namespace, cli: CliContext) -> int:
    async with cli.runtime() as rt:
        targets = await Admission(rt).pending()
    if args.json:
        cli.print_json([t.to_json() for t in targets])
        return 0
    table = Table("id", "kind", "title", "updated")
    for t in targets:
        table.add_row(t.id, t.kind.value, escape(t.title or ""), _when(t.updated_at))
    cli.out.print(table)
    cli.out.print(f"{len(targets)} chats awaiting approval")
    return 0


def _when(ts: float) -> str:
    return dt.datetime.fromtimestamp(ts).strftime("%Y-%m-%d %H:%M") if ts else ""


async def _approve(args: argparse.Namespace, cli: CliContext) -> int:
    target = parse_target_id(args.id)
    async with cli.runtime() as rt:
        t = await Admission(rt).approve(target, args.tag or [])
    if args.json:
        cli.print_json(t.to_json())
        return 0
    tags = " ".join(t.tags) or "(no tags)"
    note = "" if t.active else f" (not reachable yet: {t.reason or t.state})"
    cli.out.print(f"{t.id}: approved, tags {escape(tags)}{escape(note)}")
    return 0


async def _reject(args: argparse.Namespace, cli: CliContext) -> int:
    target = parse_target_id(args.id)
    async with cli.runtime() as rt:
        t = await Admission(rt).reject(target)
    if args.json:
        cli.print_json(t.to_json())
        return 0
    cli.out.print(f"{t.id}: rejected; the bot leaves the chat (done by palm run)")
    return 0


def register_admission(group: Any) -> None:
    """Add the admission commands to the ``palm targets`` group."""
    p = add_command(group, "pending", help="chats awaiting approval", handler=_pending)
    p.add_argument("--json", action="store_true", help="print JSON")
    p = add_command(group, "approve", help="let a pending chat in", handler=_approve)
    p.add_argument("id", help="target id, e.g. telegram:-1001234567890")
    p.add_argument("--tag", action="append", metavar="TAG", help="tag it too (repeatable)")
    p.add_argument("--json", action="store_true", help="print JSON")
    p = add_command(group, "reject", help="keep a chat out; the bot leaves it", handler=_reject)
    p.add_argument("id", help="target id, e.g. telegram:-1001234567890")
    p.add_argument("--json", action="store_true", help="print JSON")
