"""palm announce TEXT --to EXPR [...]: create, then watch per-platform progress.

Exit codes: 0 when every delivery was sent (or ``--no-wait``/scheduled), 3 when some
failed (they are listed with their reasons), 1 for bad input such as an audience
that does not parse or matches nobody.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import sys
import time
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, Progress, TaskID, TextColumn, TimeElapsedColumn
from rich.table import Table

from gateway import announcements
from gateway.accounts import Role, views
from gateway.attachments import MAX_ATTACHMENTS, attachment_from_file
from gateway.cli.as_user import acting_user, add_as_user, scope_of
from gateway.cli.context import EXIT_FAILED_DELIVERIES, CliContext, add_command
from gateway.errors import InputError
from gateway.models import Priority
from gateway.outbox import OutboxStore
from gateway.runtime import Runtime

POLL_SECONDS = 0.25
HINT_AFTER_SECONDS = 15.0


def parse_at(raw: str) -> float:
    """ISO 8601; without a zone it is local time."""
    try:
        when = dt.datetime.fromisoformat(raw.strip())
    except ValueError:
        raise InputError(f"--at {raw!r}: expected ISO 8601, like 2025-06-01T09:00+08:00") from None
    if when.tzinfo is None:
        when = when.astimezone()
    return when.timestamp()


async def _announce(args: argparse.Namespace, cli: CliContext) -> int:
    if len(args.attach) > MAX_ATTACHMENTS:
        raise InputError(f"at most {MAX_ATTACHMENTS} attachments")
    attachments = [attachment_from_file(p) for p in args.attach]
    send_at = parse_at(args.at) if args.at else None
    async with cli.runtime() as rt:
        as_user = await acting_user(args, rt, Role.STAFF)
        await views.check_announce(rt, await scope_of(args, rt), args.to)
        ann, fresh = await announcements.create(
            rt,
            text=args.text,
            to=args.to,
            title=args.title,
            priority=Priority.URGENT if args.urgent else Priority.NORMAL,
            send_at=send_at,
            attachments=attachments,
            idempotency_key=args.idempotency_key,
            created_by=as_user or "cli",
            confirm=args.confirm,
        )
        print(ann.id, flush=True)
        if not fresh:
            sys.stderr.write(f"{ann.id} already exists for this idempotency key\n")
        if ann.status == announcements.SCHEDULED:
            sys.stderr.write(f"scheduled for {dt.datetime.fromtimestamp(ann.send_at or 0)}\n")
            return 0
        if args.no_wait:
            return 0
        await _watch(rt, ann.id)
        return await _summary(rt, ann.id, cli)


def _fields(c: dict[str, int], rate: float) -> dict[str, Any]:
    return {
        "sent": c.get("sent", 0),
        "failed": c.get("failed", 0),
        "queued": c.get("queued", 0),
        "rate": f"{rate:.1f}",
    }


async def _watch(rt: Runtime, ann_id: str) -> None:
    """One bar per platform until nothing is queued any more."""
    store = OutboxStore(rt)
    err = Console(stderr=True, highlight=False)
    columns = (
        TextColumn("{task.description:>9}"),
        BarColumn(),
        TextColumn("sent {task.fields[sent]}  failed {task.fields[failed]}"),
        TextColumn("queued {task.fields[queued]}  {task.fields[rate]}/s"),
        TimeElapsedColumn(),
    )
    started = time.monotonic()
    hinted = False
    with Progress(*columns, console=err) as progress:
        bars: dict[str, TaskID] = {}
        while True:
            counts = await store.counts(announcements.ORIGIN, ann_id)
            elapsed = max(0.001, time.monotonic() - started)
            for platform, c in sorted(counts.items()):
                total = sum(c.values())
                done = total - c.get("queued", 0)
                fields = _fields(c, c.get("sent", 0) / elapsed)
                if platform not in bars:
                    bars[platform] = progress.add_task(platform, total=total, **fields)
                progress.update(bars[platform], completed=done, total=total, **fields)
            if not any(c.get("queued", 0) for c in counts.values()):
                return
            if (
                not hinted
                and elapsed > HINT_AFTER_SECONDS
                and not any(c.get("sent") or c.get("failed") for c in counts.values())
            ):
                progress.console.print(
                    "nothing sent yet: is `palm run` up? (Ctrl-C stops watching)"
                )
                hinted = True
            await asyncio.sleep(POLL_SECONDS)


async def _summary(rt: Runtime, ann_id: str, cli: CliContext) -> int:
    deliveries = await OutboxStore(rt).of_origin(announcements.ORIGIN, ann_id)
    failed = [d for d in deliveries if d.state == "failed"]
    sent = sum(1 for d in deliveries if d.state == "sent")
    cli.out.print(f"{ann_id}: {sent} sent, {len(failed)} failed")
    if not failed:
        return 0
    table = Table("target", "reason", "retryable", title="failed deliveries")
    for d in failed:
        table.add_row(d.target, d.reason or "", "yes" if d.retryable else "no")
    cli.out.print(table)
    sys.stderr.write(f"palm: {len(failed)} of {len(deliveries)} deliveries failed\n")
    return EXIT_FAILED_DELIVERIES


def register(sub: Any) -> None:
    p = add_command(
        sub, "announce", handler=_announce,
        help="send an announcement and watch it go out",
    )  # fmt: skip
    p.add_argument("text", help="the text, in the Markdown subset (bold, italic, links, lists)")
    p.add_argument(
        "--to", required=True, metavar="EXPR", help='audience, e.g. "building:5 | building:6"'
    )
    p.add_argument("--title")
    p.add_argument("--urgent", action="store_true", help="ahead of every normal delivery")
    p.add_argument("--at", metavar="ISO8601", help="send later, e.g. 2025-06-01T09:00+08:00")
    p.add_argument("--attach", action="append", default=[], metavar="FILE", help="repeatable")
    p.add_argument("--no-wait", action="store_true", help="print the id and return at once")
    p.add_argument(
        "--confirm", action="store_true", help="residents confirm they read it (✅ 已阅 Got it)"
    )
    p.add_argument(
        "--idempotency-key", metavar="K", help="the same key returns the same announcement"
    )
    add_as_user(p, acts=True)
