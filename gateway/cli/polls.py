"""palm poll create QUESTION --option A --option B ... --to EXPR [--multiple] [--closes ISO]
| show ID [--by chat|building] [--json] | list [--json] | close ID"""

from __future__ import annotations

import argparse
import datetime as dt
from typing import Any

from rich.table import Table

from gateway.accounts import Role, views
from gateway.cli.announce import parse_at
from gateway.cli.as_user import acting_user, add_as_user, scope_of
from gateway.cli.context import CliContext, add_command, add_group
from gateway.polls import parse_id, service
from gateway.polls import views as poll_views


async def _create(args: argparse.Namespace, cli: CliContext) -> int:
    closes = parse_at(args.closes) if args.closes else None
    async with cli.runtime() as rt:
        as_user = await acting_user(args, rt, Role.STAFF)
        await views.check_announce(rt, await scope_of(args, rt), args.to)
        poll = await service.create(
            rt,
            question=args.question,
            options=args.option,
            to=args.to,
            multiple=args.multiple,
            closes_at=closes,
            created_by=as_user or "cli",
        )
    print(poll.id, flush=True)
    return 0


async def _show(args: argparse.Namespace, cli: CliContext) -> int:
    poll_id = parse_id(args.id)
    async with cli.runtime() as rt:
        poll = await poll_views.poll_in_scope(rt, await scope_of(args, rt), poll_id)
        data = await poll_views.detail(rt, poll, args.by)
    if args.json:
        cli.print_json(data)
        return 0
    _print_summary(cli, data)
    return 0


def _print_summary(cli: CliContext, data: dict[str, Any]) -> None:
    poll = data["poll"]
    cli.out.print(f"{poll['id']} [{poll['state']}] {poll['question']}  (to {poll['to']})")
    groups: list[tuple[str, dict[str, Any]]] = [("all", {"voters": data["voters"],
                                                          "counts": data["counts"]})]  # fmt: skip
    for section in ("by_platform", "by_chat", "by_building"):
        groups += [(f"{section[3:]} {k}", v) for k, v in data.get(section, {}).items()]
    table = Table("", *poll["options"], "voters", "households")
    for name, g in groups:
        hh = g.get("households_voted")
        hh_text = f"{hh} of {g['households_known']}" if hh is not None else ""
        table.add_row(name, *(str(c) for c in g["counts"]), str(g["voters"]), hh_text)
    cli.out.print(table)
    t = data["turnout"]
    cli.out.print(
        f"turnout: {t['residents_voted']} residents voted ({t['residents_known']} known); "
        f"{t['households_voted']} of {t['households_known']} households"
    )
    ignored = {k: v for k, v in data["ignored"].items() if k in ("outside", "late") and v}
    if ignored:
        cli.out.print("not counted: " + ", ".join(f"{v} {k}" for k, v in ignored.items()))
    for c in data["comments"]:
        cli.out.print(f"comment from {c['name']} ({c['target']}): {c['text']}")


async def _list(args: argparse.Namespace, cli: CliContext) -> int:
    async with cli.runtime() as rt:
        polls = await poll_views.list_polls(rt, await scope_of(args, rt))
    if args.json:
        cli.print_json([p.to_json() for p in polls])
        return 0
    table = Table("id", "state", "question", "to", "chats", "closes")
    for p in polls:
        closes = dt.datetime.fromtimestamp(p.closes_at, dt.UTC).strftime("%Y-%m-%d %H:%M") if (
            p.closes_at) else ""  # fmt: skip
        table.add_row(p.id, p.state, p.question, p.audience, str(p.target_count), closes)
    cli.out.print(table)
    return 0


async def _close(args: argparse.Namespace, cli: CliContext) -> int:
    poll_id = parse_id(args.id)
    async with cli.runtime() as rt:
        await acting_user(args, rt, Role.STAFF)
        await poll_views.poll_in_scope(rt, await scope_of(args, rt), poll_id, acting=True)
        poll = await service.close(rt, poll_id)
    cli.out.print(f"{poll.id} closed; the result goes to {poll.target_count} chats")
    return 0


def register(sub: Any) -> None:
    group = add_group(sub, "poll", help="consultations: polls across Telegram and Matrix")
    p = add_command(group, "create", help="send a poll; prints its id (P-n)", handler=_create)
    p.add_argument("question")
    p.add_argument("--option", action="append", required=True, help="an answer (2 to 10)")
    p.add_argument("--to", required=True, help="audience expression, as for announce")
    p.add_argument("--multiple", action="store_true", help="residents may pick several")
    p.add_argument("--closes", help="closing time, ISO 8601 (local time without a zone)")
    add_as_user(p, acts=True)
    p = add_command(group, "show", help="counts, turnout and comments", handler=_show)
    p.add_argument("id")
    p.add_argument("--by", choices=("chat", "building"), help="also count per chat or building")
    p.add_argument("--json", action="store_true", help="print JSON")
    add_as_user(p)
    p = add_command(group, "list", help="recent polls", handler=_list)
    p.add_argument("--json", action="store_true", help="print JSON")
    add_as_user(p)
    p = add_command(
        group, "close", help="stop the poll everywhere, post the result", handler=_close
    )
    p.add_argument("id")
    add_as_user(p, acts=True)
