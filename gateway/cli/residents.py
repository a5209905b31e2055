"""palm residents set PLATFORM:USER --unit U | unset PLATFORM:USER | list [--building N] [--json]"""

from __future__ import annotations

import argparse
import datetime as dt
from typing import Any

from rich.table import Table

from gateway.cli.context import CliContext, add_command, add_group
from gateway.errors import NotFound
from gateway.households import HouseholdStore, parse_resident
from gateway.runtime import Runtime


def _store(rt: Runtime) -> HouseholdStore:
    return HouseholdStore(rt.redis, rt.keys, rt.config.households.unit_pattern)


async def _set(args: argparse.Namespace, cli: CliContext) -> int:
    resident = parse_resident(args.resident)
    async with cli.runtime() as rt:
        store = _store(rt)
        before = await store.get(resident)
        unit = await store.bind(
            resident, args.unit, by=args.by, name=args.name or (before.name if before else "")
        )
    where = f" (building:{unit.building})" if unit.building else ""
    cli.out.print(f"{resident}: {unit.unit}{where}")
    return 0


async def _unset(args: argparse.Namespace, cli: CliContext) -> int:
    resident = parse_resident(args.resident)
    async with cli.runtime() as rt:
        if not await _store(rt).unbind(resident):
            raise NotFound(f"{resident} is not bound to a unit")
    cli.out.print(f"{resident}: no unit")
    return 0


async def _list(args: argparse.Namespace, cli: CliContext) -> int:
    async with cli.runtime() as rt:
        units = await _store(rt).list(args.building)
    if args.json:
        cli.print_json([u.to_json() for u in units])
        return 0
    table = Table("resident", "name", "unit", "building", "bound", "by")
    for u in units:
        when = dt.datetime.fromtimestamp(u.bound_at, dt.UTC).strftime("%Y-%m-%d %H:%M")
        table.add_row(u.resident, u.name, u.unit, u.building or "", when, u.by)
    cli.out.print(table)
    households = len({u.unit for u in units})
    cli.out.print(f"{len(units)} residents in {households} households")
    return 0


def register(sub: Any) -> None:
    group = add_group(sub, "residents", help="residents and their units (households)")
    p = add_command(group, "set", help="bind a resident to a unit", handler=_set)
    p.add_argument("resident", help="telegram:USER_ID or matrix:@user:server")
    p.add_argument("--unit", required=True, help="the unit, e.g. 5-302 (building-unit)")
    p.add_argument("--name", help="the resident's name, for lists")
    p.add_argument("--by", default="staff", help="who set it (default: staff)")
    p = add_command(group, "unset", help="remove a resident's unit", handler=_unset)
    p.add_argument("resident", help="telegram:USER_ID or matrix:@user:server")
    p = add_command(group, "list", help="residents with their units", handler=_list)
    p.add_argument("--building", help="only this building (5 for building:5)")
    p.add_argument("--json", action="store_true", help="print JSON")
