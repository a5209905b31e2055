"""palm tokens create NAME --role R [--scope EXPR] [--expires 90d] | list | revoke NAME"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from typing import Any

from rich.table import Table

from gateway.accounts import Role, TokenStore
from gateway.accounts.durations import parse_duration
from gateway.cli.context import CliContext, add_command, add_group


def _when(ts: float | None) -> str:
    return dt.datetime.fromtimestamp(ts).strftime("%Y-%m-%d %H:%M") if ts else "-"


async def _create(args: argparse.Namespace, cli: CliContext) -> int:
    role = Role.parse(args.role)
    expires_in = parse_duration(args.expires) if args.expires else None
    async with cli.runtime() as rt:
        store = TokenStore(rt.redis, rt.keys)
        token = await store.create(args.name, role, args.scope, expires_in)
        info = next(i for i in await store.list() if i.name == args.name.strip())
    if args.json:
        cli.print_json({**info.to_json(), "token": token})
    else:
        print(token)
        until = f", expires {_when(info.expires)}" if info.expires else ""
        scope = f", scope {info.scope}" if info.scope else ""
        sys.stderr.write(
            f"token for {info.name} ({role.label}{scope}{until}); it is shown only once\n"
        )
    return 0


async def _list(args: argparse.Namespace, cli: CliContext) -> int:
    async with cli.runtime() as rt:
        infos = await TokenStore(rt.redis, rt.keys).list()
    if args.json:
        cli.print_json([i.to_json() for i in infos])
        return 0
    table = Table("name", "role", "scope", "created", "expires", "last used")
    for i in infos:
        expires = _when(i.expires) + (" (expired)" if i.expired else "")
        table.add_row(
            i.name, i.role.label, i.scope or "(all)", _when(i.created), expires,
            _when(i.last_used),
        )  # fmt: skip
    cli.out.print(table)
    return 0


async def _revoke(args: argparse.Namespace, cli: CliContext) -> int:
    async with cli.runtime() as rt:
        await TokenStore(rt.redis, rt.keys).revoke(args.name)
    cli.out.print(f"token {args.name} revoked", markup=False)
    return 0


def register(sub: Any) -> None:
    group = add_group(sub, "tokens", help="API tokens")
    p = add_command(group, "create", help="create an API token and print it once", handler=_create)
    p.add_argument("name", help="who the token is for, e.g. secretary-wang")
    p.add_argument("--role", required=True, choices=["admin", "staff", "viewer"])
    p.add_argument("--scope", metavar="EXPR", help="audience expression bounding the token")
    p.add_argument("--expires", metavar="DURATION", help="lifetime, e.g. 90d, 12h, 30m")
    p.add_argument("--json", action="store_true", help="print JSON")
    p = add_command(group, "list", help="tokens (never the token itself)", handler=_list)
    p.add_argument("--json", action="store_true", help="print JSON")
    p = add_command(group, "revoke", help="revoke a token: 401 at once", handler=_revoke)
    p.add_argument("name")
