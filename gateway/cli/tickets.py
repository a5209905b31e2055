"""palm tickets list | show | claim | reply | resolve

The actor recorded on the ticket is ``--as NAME``, else ``$PALM_STAFF_NAME``, else the
OS user. ``reply`` on a ``new`` ticket claims it for you.
"""

from __future__ import annotations

import argparse
import getpass
import os
import time
from typing import Any

from rich.table import Table

from gateway.accounts import views
from gateway.cli.as_user import add_as_user, scope_of
from gateway.cli.context import CliContext, add_command, add_group
from gateway.cli.show import cell, safe
from gateway.funnel import staff
from gateway.funnel.ticket_model import Ticket, parse_ticket_id
from gateway.funnel.tickets import TicketStore
from gateway.safety.inert import visible

STAFF_ENV = "PALM_STAFF_NAME"


def actor(args: argparse.Namespace) -> str:
    return str(getattr(args, "as_name", None) or os.environ.get(STAFF_ENV) or getpass.getuser())


def _age(since: float) -> str:
    s = max(0, int(time.time() - since))
    if s < 3600:
        return f"{s // 60}m"
    if s < 86400:
        return f"{s // 3600}h{s % 3600 // 60:02d}m"
    return f"{s // 86400}d{s % 86400 // 3600}h"


def _table(tickets: list[Ticket]) -> Table:
    table = Table(show_lines=False)
    for col in ("id", "prio", "status", "kind", "category", "age", "resident", "assignee", "text"):
        table.add_column(col, overflow="fold" if col == "text" else "ellipsis")
    for t in tickets:
        prio = "[bold red]urgent[/]" if t.priority == "urgent" else "normal"
        table.add_row(
            t.id, prio, t.status, t.kind, cell(t.category), _age(t.received_at),
            cell(t.resident_name), cell(t.assignee), cell(t.text[:60]),
        )  # fmt: skip
    return table


async def _list(args: argparse.Namespace, cli: CliContext) -> int:
    async with cli.runtime() as rt:
        tickets, cursor = await views.list_tickets(
            rt, await scope_of(args, rt), status=args.status, kind=args.kind, limit=args.limit
        )
    if args.json:
        cli.print_json({"tickets": [t.to_json() for t in tickets], "next_cursor": cursor})
    else:
        cli.out.print(_table(tickets))
        if cursor:
            cli.out.print(f"(showing the first {len(tickets)}; use --limit for more)")
    return 0


def _print_detail(cli: CliContext, d: dict[str, Any]) -> None:
    res = d["resident"]
    cli.out.print(
        f"[bold]{d['id']}[/]  {d['priority']} {d['kind']} / {safe(d['category'])}  {d['status']}"
    )
    cli.out.print(
        cell(f"resident: {res['display_name']} ({res['platform']} {res['user_id']})")
        + cell(f" in {d['target']}")
    )
    if d["assignee"]:
        cli.out.print(cell(f"assignee: {d['assignee']}"))
    if d["announcement"]:
        cli.out.print(f"reply to announcement {d['announcement']}")
    if d["note"]:
        cli.out.print(cell(f"note: {d['note']}"))
    cli.out.print("")
    for m in d["conversation"]:
        when = time.strftime(
            "%m-%d %H:%M", time.localtime(m.get("received_at") or m.get("at") or 0)
        )
        who = m["sender"]["display_name"] if m["direction"] == "in" else f"staff {m['actor']}"
        extra = f" [{len(m['attachments'])} attachment(s)]" if m.get("attachments") else ""
        cli.out.print(visible(f"{when}  {who}: {m['text']}{extra}"), markup=False)
    cli.out.print("")
    for o in d["outbound"]:
        cli.out.print(
            cell(f"sent {o['delivery_id']}: {o.get('state', 'queued')} {o.get('reason') or ''}")
        )


async def _show(args: argparse.Namespace, cli: CliContext) -> int:
    tid = parse_ticket_id(args.id)
    async with cli.runtime() as rt:
        await views.ticket_in_scope(rt, await scope_of(args, rt), tid)
        detail = await TicketStore(rt.redis, rt.keys).detail(tid)
    if args.json:
        cli.print_json(detail)
    else:
        _print_detail(cli, detail)
    return 0


async def _claim(args: argparse.Namespace, cli: CliContext) -> int:
    tid = parse_ticket_id(args.id)
    async with cli.runtime() as rt:
        t = await staff.claim(rt, tid, actor(args), force=args.force)
    taken = f" (taken over from {t['previous_assignee']})" if t["previous_assignee"] else ""
    cli.out.print(cell(f"{tid} claimed by {t['assignee']}{taken}"))
    return 0


async def _reply(args: argparse.Namespace, cli: CliContext) -> int:
    tid = parse_ticket_id(args.id)
    async with cli.runtime() as rt:
        t = await staff.reply(rt, tid, actor(args), args.text)
    cli.out.print(cell(f"{tid}: reply queued for {t['target']} ({t['delivery_id']})"))
    return 0


async def _resolve(args: argparse.Namespace, cli: CliContext) -> int:
    tid = parse_ticket_id(args.id)
    async with cli.runtime() as rt:
        await staff.resolve(rt, tid, actor(args), args.note)
    cli.out.print(f"{tid} resolved")
    return 0


def _as(p: argparse.ArgumentParser) -> None:
    p.add_argument("--as", dest="as_name", metavar="NAME", help=f"staff name (${STAFF_ENV})")


def register(sub: Any) -> None:
    group = add_group(sub, "tickets", help="work the staff queue")
    p = add_command(group, "list", help="list tickets: urgent first, then oldest", handler=_list)
    p.add_argument("--status", choices=["new", "claimed", "resolved"])
    p.add_argument("--kind", choices=["report", "reply", "message"])
    p.add_argument("--limit", type=int, default=50)
    p.add_argument("--json", action="store_true", help="print JSON")
    add_as_user(p)
    p = add_command(group, "show", help="one ticket with its conversation", handler=_show)
    p.add_argument("id", help="ticket id, e.g. T-42")
    p.add_argument("--json", action="store_true", help="print JSON")
    add_as_user(p)
    p = add_command(group, "claim", help="take a ticket", handler=_claim)
    p.add_argument("id")
    p.add_argument("--force", action="store_true", help="take it over from whoever holds it")
    _as(p)
    p = add_command(
        group, "reply", handler=_reply,
        help="answer the resident (as a reply to their first message); claims a new ticket",
    )  # fmt: skip
    p.add_argument("id")
    p.add_argument("text")
    _as(p)
    p = add_command(group, "resolve", help="resolve and tell the resident", handler=_resolve)
    p.add_argument("id")
    p.add_argument("--note", help="posted to the resident as 'resolved: NOTE'")
    _as(p)
