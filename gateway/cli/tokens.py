"""palm tokens create NAME --role admin|staff|viewer"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from gateway.accounts import Role, TokenStore
from gateway.cli.context import CliContext, add_command, add_group


async def _create(args: argparse.Namespace, cli: CliContext) -> int:
    role = Role.parse(args.role)
    async with cli.runtime() as rt:
        token = await TokenStore(rt.redis, rt.keys).create(args.name, role)
    if args.json:
        cli.print_json({"name": args.name, "role": role.label, "token": token})
    else:
        print(token)
        sys.stderr.write(f"token for {args.name} ({role.label}); it is shown only once\n")
    return 0


def register(sub: Any) -> None:
    group = add_group(sub, "tokens", help="API tokens")
    p = add_command(group, "create", help="create an API token and print it once", handler=_create)
    p.add_argument("name", help="who the token is for, e.g. secretary-wang")
    p.add_argument("--role", required=True, choices=["admin", "staff", "viewer"])
    p.add_argument("--json", action="store_true", help="print JSON")
