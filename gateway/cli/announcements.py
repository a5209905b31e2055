"""palm announcements list | show ID | edit ID TEXT | recall ID | dead-letters"""

from __future__ import annotations

import argparse
import contextlib
import sys
from collections.abc import AsyncIterator, Sequence
from typing import Any

from rich.table import Table

from gateway import announcements
from gateway.accounts import views
from gateway.adapter import AdapterContext
from gateway.cli import confirmations
from gateway.cli.as_user import add_as_user, scope_of
from gateway.cli.context import EXIT_ERROR, CliContext, add_command, add_group
from gateway.cli.show import cell, safe, when
from gateway.inbound import RedisInboundSink
from gateway.outbox import OutboxStore
from gateway.outbox.actions import ActionResult
from gateway.runtime import Runtime
from gateway.safety.inert import visible


@contextlib.asynccontextmanager
async def platform_adapters(rt: Runtime) -> AsyncIterator[Runtime]:
    """Start the configured adapters (no receiving) so this command can edit or recall."""
    from adapters.registry import build_adapters

    started = []
    try:
        ctx = AdapterContext(rt.redis, rt.keys, RedisInboundSink(rt.redis, rt.keys), rt.instance)
        for adapter in build_adapters(rt.config):
            await adapter.start(ctx)
            started.append(adapter)
            rt.adapters[adapter.platform] = adapter
        yield rt
    finally:
        for adapter in started:
            with contextlib.suppress(Exception):
                await adapter.aclose()


async def _list(args: argparse.Namespace, cli: CliContext) -> int:
    async with cli.runtime() as rt:
        items = await views.list_announcements(rt, await scope_of(args, rt), args.limit)
    if args.json:
        cli.print_json([a.to_json() for a in items])
        return 0
    table = Table("id", "created", "status", "priority", "to", "targets", "text")
    for a in items:
        text = a.text if len(a.text) <= 40 else a.text[:39] + "…"
        table.add_row(
            a.id, when(a.created_at), a.status, a.priority.value, cell(a.audience),
            str(a.target_count), cell(text.replace("\n", " ")),
        )  # fmt: skip
    cli.out.print(table)
    return 0


async def _show(args: argparse.Namespace, cli: CliContext) -> int:
    async with cli.runtime() as rt:
        data = await views.announcement_detail(rt, await scope_of(args, rt), args.id)
    if args.json:
        cli.print_json(data)
        return 0
    cli.out.print(
        f"[bold]{data['id']}[/bold]  {data['status']}  {data['priority']}  to {safe(data['to'])}"
    )
    if data["title"]:
        cli.out.print(cell(f"title: {data['title']}"))
    cli.out.print(visible(data["text"]), markup=False)
    counts = ", ".join(f"{k} {v}" for k, v in sorted(data["counts"].items())) or "no deliveries"
    cli.out.print(f"deliveries: {counts}; replies: {data['replies']}")
    if data["send_at"]:
        cli.out.print(f"send at: {when(data['send_at'])}")
    if data.get("pruned_at"):
        cli.out.print(
            f"per-chat records removed {when(data['pruned_at'])} (outbox.keep_days); "
            "the counts above stay"
        )
        return 0
    table = Table("target", "state", "attempts", "message ids", "sent", "reason")
    for d in data["deliveries"]:
        table.add_row(
            cell(d["target"]), d["state"], str(d["attempts"]), cell(" ".join(d["message_ids"])),
            when(d["sent_at"]), cell(d["reason"]),
        )  # fmt: skip
    cli.out.print(table)
    return 0


def print_results(
    cli: CliContext, results: Sequence[ActionResult], as_json: bool, verb: str
) -> int:
    if as_json:
        cli.print_json([r.to_json() for r in results])
    else:
        table = Table("target", "result", "reason")
        for r in results:
            color = "green" if r.ok else "red"
            table.add_row(cell(r.target), f"[{color}]{r.result}[/{color}]", cell(r.reason))
        cli.out.print(table)
        done = sum(1 for r in results if r.ok)
        cli.out.print(f"{done} of {len(results)} done")
    failed = sum(1 for r in results if not r.ok)
    if failed:
        sys.stderr.write(f"palm: {failed} of {len(results)} targets could not be {verb}\n")
        return EXIT_ERROR
    return 0


async def _edit(args: argparse.Namespace, cli: CliContext) -> int:
    cli.config_with_secrets()  # it talks to the platforms itself
    async with cli.runtime() as rt, platform_adapters(rt):
        results = await announcements.edit(rt, args.id, args.text)
    return print_results(cli, results, args.json, "edited")


async def _recall(args: argparse.Namespace, cli: CliContext) -> int:
    cli.config_with_secrets()  # it talks to the platforms itself
    async with cli.runtime() as rt, platform_adapters(rt):
        results = await announcements.recall(rt, args.id)
    return print_results(cli, results, args.json, "recalled")


async def _dead(args: argparse.Namespace, cli: CliContext) -> int:
    async with cli.runtime() as rt:
        store = OutboxStore(rt)
        dead = await store.many(await store.dead_letters())
    if args.json:
        cli.print_json([d.to_json() for d in dead])
        return 0
    table = Table("delivery", "target", "reason", "updated")
    for d in dead:
        table.add_row(d.delivery_id, cell(d.target), cell(d.reason), when(d.updated_at))
    cli.out.print(table)
    return 0


def register(sub: Any) -> None:
    group = add_group(sub, "announcements", help="list, show, edit and recall announcements")
    p = add_command(group, "list", help="recent announcements", handler=_list)
    p.add_argument("--limit", type=int, default=50)
    p.add_argument("--json", action="store_true", help="print JSON")
    add_as_user(p)
    p = add_command(group, "show", help="status, counts and every delivery", handler=_show)
    p.add_argument("id", help="announcement id, e.g. A-17")
    p.add_argument("--json", action="store_true", help="print JSON")
    add_as_user(p)
    p = add_command(group, "edit", help="edit the text everywhere it was sent", handler=_edit)
    p.add_argument("id")
    p.add_argument("text")
    p.add_argument("--json", action="store_true", help="print JSON")
    p = add_command(group, "recall", help="delete or redact it everywhere", handler=_recall)
    p.add_argument("id")
    p.add_argument("--json", action="store_true", help="print JSON")
    confirmations.register_into(group)
    p = add_command(
        group, "dead-letters", help="deliveries that crashed their workers too often",
        handler=_dead,
    )  # fmt: skip
    p.add_argument("--json", action="store_true", help="print JSON")
