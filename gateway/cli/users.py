"""palm users create NAME --role R [--scope EXPR] [--password-stdin] | list | passwd | disable

Passwords are never arguments (they would sit in the shell history and in ``ps``):
with ``--password-stdin`` the first line of stdin, else a prompt (twice) on a terminal,
else one line read from stdin.
"""

from __future__ import annotations

import argparse
import datetime as dt
import getpass
import sys
from typing import Any

from rich.table import Table

from gateway.accounts import Role, UserStore
from gateway.accounts.users import check_password
from gateway.cli.context import CliContext, add_command, add_group
from gateway.errors import InputError


def read_password(from_stdin: bool) -> str:
    if from_stdin or not sys.stdin.isatty():
        line = sys.stdin.readline()
        if not line:
            raise InputError("no password on stdin")
        return check_password(line.rstrip("\r\n"))
    first = check_password(getpass.getpass("password: "))
    if getpass.getpass("again: ") != first:
        raise InputError("the two passwords differ")
    return first


async def _create(args: argparse.Namespace, cli: CliContext) -> int:
    role = Role.parse(args.role)
    password = read_password(args.password_stdin)
    async with cli.runtime() as rt:
        user = await UserStore(rt.redis, rt.keys).create(args.name, role, password, args.scope)
    scope = f", scope {user.scope}" if user.scope else ""
    cli.out.print(f"user {user.name} created ({user.role.label}{scope})", markup=False)
    return 0


async def _list(args: argparse.Namespace, cli: CliContext) -> int:
    async with cli.runtime() as rt:
        users = await UserStore(rt.redis, rt.keys).list()
    if args.json:
        cli.print_json([u.to_json() for u in users])
        return 0
    table = Table("name", "role", "scope", "state", "created")
    for u in users:
        created = dt.datetime.fromtimestamp(u.created).strftime("%Y-%m-%d %H:%M")
        state = "disabled" if u.disabled else "active"
        table.add_row(u.name, u.role.label, u.scope or "(all)", state, created)
    cli.out.print(table)
    return 0


async def _passwd(args: argparse.Namespace, cli: CliContext) -> int:
    async with cli.runtime() as rt:
        store = UserStore(rt.redis, rt.keys)
        await store.require(args.name)  # before asking for a password nobody can use
        await store.set_password(args.name, read_password(args.password_stdin))
    cli.out.print(f"password of {args.name.strip()} changed", markup=False)
    return 0


async def _disable(args: argparse.Namespace, cli: CliContext) -> int:
    async with cli.runtime() as rt:
        await UserStore(rt.redis, rt.keys).disable(args.name)
    cli.out.print(f"user {args.name.strip()} disabled", markup=False)
    return 0


async def _enable(args: argparse.Namespace, cli: CliContext) -> int:
    async with cli.runtime() as rt:
        await UserStore(rt.redis, rt.keys).enable(args.name)
    cli.out.print(f"user {args.name.strip()} enabled", markup=False)
    return 0


def _stdin(p: argparse.ArgumentParser) -> None:
    p.add_argument("--password-stdin", action="store_true", help="read the password from stdin")


def register(sub: Any) -> None:
    group = add_group(sub, "users", help="staff accounts (console sign-in)")
    p = add_command(group, "create", help="create a staff account", handler=_create)
    p.add_argument("name")
    p.add_argument("--role", required=True, choices=["admin", "staff", "viewer"])
    p.add_argument("--scope", metavar="EXPR", help="audience expression bounding the account")
    _stdin(p)
    p = add_command(group, "list", help="staff accounts (never a password)", handler=_list)
    p.add_argument("--json", action="store_true", help="print JSON")
    p = add_command(group, "passwd", help="set a new password", handler=_passwd)
    p.add_argument("name")
    _stdin(p)
    p = add_command(group, "disable", help="refuse the account's sign-in", handler=_disable)
    p.add_argument("name")
    p = add_command(group, "enable", help="allow a disabled account again", handler=_enable)
    p.add_argument("name")
