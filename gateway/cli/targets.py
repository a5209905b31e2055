"""palm targets list [--tag T] [--json] | tag ID TAG... | untag ID TAG...
| pending [--json] | approve ID [--tag T]... | reject ID"""

from __future__ import annotations

import argparse
from typing import Any

from rich.table import Table

from gateway.accounts import views
from gateway.admission.cli import register_admission, target_state
from gateway.cli.as_user import add_as_user, scope_of
from gateway.cli.context import CliContext, add_command, add_group
from gateway.errors import NotFound
from gateway.targets import TargetDirectory, parse_target_id


async def _list(args: argparse.Namespace, cli: CliContext) -> int:
    async with cli.runtime() as rt:
        targets = await views.list_targets(rt, await scope_of(args, rt), args.tag)
    if args.json:
        cli.print_json([t.to_json() for t in targets])
        return 0
    table = Table("id", "kind", "title", "tags", "state")
    for t in targets:
        state = target_state(t)
        table.add_row(t.id, t.kind.value, t.title or "", " ".join(t.tags), state)
    cli.out.print(table)
    cli.out.print(f"{len(targets)} targets")
    return 0


async def _retag(args: argparse.Namespace, cli: CliContext, add: bool) -> int:
    target = parse_target_id(args.id)
    async with cli.runtime() as rt:
        directory = TargetDirectory(rt.redis, rt.keys)
        if await directory.get(target) is None:
            raise NotFound(f"no target {target} (see palm targets list)")
        if add:
            await directory.tag(target, args.tags)
        else:
            await directory.untag(target, args.tags)
        updated = await directory.get(target)
    assert updated is not None
    cli.out.print(f"{updated.id}: {' '.join(updated.tags) or '(no tags)'}")
    return 0


async def _tag(args: argparse.Namespace, cli: CliContext) -> int:
    return await _retag(args, cli, add=True)


async def _untag(args: argparse.Namespace, cli: CliContext) -> int:
    return await _retag(args, cli, add=False)


def register(sub: Any) -> None:
    group = add_group(sub, "targets", help="chats palm can post into, and their tags")
    p = add_command(group, "list", help="list targets with state and tags", handler=_list)
    p.add_argument("--tag", help="only targets with this tag")
    p.add_argument("--json", action="store_true", help="print JSON")
    add_as_user(p)
    for name, handler, verb in (("tag", _tag, "add"), ("untag", _untag, "remove")):
        p = add_command(group, name, help=f"{verb} tags", handler=handler)
        p.add_argument("id", help="target id, e.g. telegram:-1001234567890")
        p.add_argument("tags", nargs="+", metavar="TAG")
    register_admission(group)
