"""Chats and the overview (polls: ``pages_polls``)."""

from __future__ import annotations

import time
from typing import Any

import aiohttp_jinja2
from aiohttp import web

from gateway import announcements
from gateway.accounts import Role, check_retag
from gateway.admission.gate import Admission
from gateway.admission.routes import status_of
from gateway.console import charts, samples
from gateway.console.context import no_action, page_vars, role_too_low, runtime, signed_in
from gateway.funnel.stats import queue_stats
from gateway.outbox import OutboxStore
from gateway.runtime import Runtime
from gateway.targets import TargetDirectory, parse_target_id


async def chats_page(request: web.Request) -> web.StreamResponse:
    _, user = signed_in(request)
    rt = runtime(request)
    targets = await TargetDirectory(rt.redis, rt.keys).list()
    if user.scope is not None:
        targets = [t for t in targets if user.scope.permits(t)]
    groups = [t for t in targets if t.kind.value == "group"]
    # A pending chat has no tags yet, so it lies inside no scope: only an unscoped
    # account sees the waiting list, and only an admin may decide.
    pending = [t for t in groups if status_of(t) == "pending"] if user.scope is None else []
    return aiohttp_jinja2.render_template(
        "chats.html",
        request,
        page_vars(
            request, chats=[t for t in groups if status_of(t) != "pending"], pending=pending,
            directs=len(targets) - len(groups), status_of=status_of,
            can_admit=user.role >= Role.ADMIN and user.scope is None,
            can_tag=user.role >= Role.ADMIN,
        ),
    )  # fmt: skip


async def chat_action(request: web.Request) -> web.StreamResponse:
    _, user = signed_in(request)
    action = request.match_info["action"]
    if action == "tags":
        return await _retag(request)
    if user.role < Role.ADMIN or user.scope is not None:
        raise role_too_low()
    target = parse_target_id(request.match_info["id"])
    admission = Admission(runtime(request))
    if action == "approve":
        form = await request.post()
        await admission.approve(target, str(form.get("tags", "")).split())
    elif action == "reject":
        await admission.reject(target)
    else:
        raise no_action(action)
    raise web.HTTPSeeOther("/console/chats")


async def _retag(request: web.Request) -> web.StreamResponse:
    """Replace a chat's tags: the API's ``PATCH /targets/{id}`` rules (admin; a scoped
    admin only on a chat inside the scope), and the one tag validator (``set_tags``)."""
    _, user = signed_in(request)
    if user.role < Role.ADMIN:
        raise role_too_low()
    rt = runtime(request)
    directory = TargetDirectory(rt.redis, rt.keys)
    target = parse_target_id(request.match_info["id"])
    form = await request.post()
    tags = str(form.get("tags", "")).split()
    await check_retag(directory, user.scope, target, tags)
    await directory.set_tags(target, tags)
    raise web.HTTPSeeOther("/console/chats")


async def _deliveries_24h(rt: Runtime) -> dict[str, int]:
    """Deliveries by result of the announcements created in the last 24 h."""
    since = time.time() - 86400
    totals: dict[str, int] = {}
    store = OutboxStore(rt)
    for ann in await announcements.list_recent(rt, 500):
        if ann.created_at < since:
            break
        for counts in (await store.counts(announcements.ORIGIN, ann.id)).values():
            for state, n in counts.items():
                totals[state] = totals.get(state, 0) + n
    return totals


async def overview_page(request: web.Request) -> web.StreamResponse:
    signed_in(request)
    rt = runtime(request)
    rows = await samples.queue_samples(rt)
    now = time.time()
    stats = await queue_stats(rt)
    # The charts end with the figures as they are now, as the tiles above them show them:
    # the last per-minute sample can be up to a minute old ("latest: 0" beside "2").
    rows.append((now, int(stats["depth"]), float(stats["oldest_new_age_seconds"] or 0)))
    times = [r[0] for r in rows]
    depth = charts.line(times, [float(r[1]) for r in rows], now - 86400, now)
    oldest = charts.line(times, [r[2] / 60 for r in rows], now - 86400, now)
    responses = await samples.first_responses(rt)
    pct: dict[str, Any] = {f"p{p}": samples.percentile(responses, p) for p in (50, 90, 99)}
    return aiohttp_jinja2.render_template(
        "overview.html",
        request,
        page_vars(
            request, stats=stats, depth=depth, oldest=oldest, pct=pct,
            responses=len(responses), deliveries=charts.bars(await _deliveries_24h(rt)),
            width=charts.WIDTH, height=charts.HEIGHT,
        ),
    )  # fmt: skip
