"""The composer, the announcement page, and edit/recall from the console."""

from __future__ import annotations

import secrets
import time
from typing import Any

import aiohttp_jinja2
from aiohttp import web
from multidict import MultiDictProxy

from gateway import announcements, work
from gateway.accounts import check_audience
from gateway.attachments import MAX_ATTACHMENT_BYTES, MAX_ATTACHMENTS, make_attachment
from gateway.confirm.remind import remind
from gateway.confirm.rollup import Rollup, rollup
from gateway.confirm.store import ConfirmStore
from gateway.console import compose
from gateway.console.context import (
    ctx,
    no_action,
    page_vars,
    require_staff,
    runtime,
    signed_in,
)
from gateway.console.events import last_id
from gateway.errors import Conflict, Forbidden, InputError, NotFound
from gateway.models import OutboundAttachment, Priority
from gateway.runtime import Runtime
from gateway.targets import TargetDirectory


async def composer(request: web.Request) -> web.StreamResponse:
    signed_in(request)
    rt = runtime(request)
    recent = await announcements.list_recent(rt, 10)
    return aiohttp_jinja2.render_template(
        "composer.html",
        request,
        page_vars(
            request, idem=secrets.token_urlsafe(16), zone=compose.local_zone(),
            max_mb=MAX_ATTACHMENT_BYTES // (1024 * 1024), max_files=MAX_ATTACHMENTS,
            recent=await _visible(rt, request, recent), form={}, error="",
            picks=await compose.picks(rt, signed_in(request)[1].scope),
        ),
    )  # fmt: skip


async def _visible(
    rt: Runtime, request: web.Request, items: list[announcements.Announcement]
) -> list[announcements.Announcement]:
    _, user = signed_in(request)
    if user.scope is None:
        return items
    out = []
    for a in items:
        raw = await rt.redis.smembers(rt.keys("announcement", a.id, "targets"))
        targets = {str(t) for t in raw}
        try:
            await check_audience(TargetDirectory(rt.redis, rt.keys), user.scope, targets)
        except Forbidden:
            continue
        out.append(a)
    return out


async def audience_matches(request: web.Request) -> web.StreamResponse:
    _, user = signed_in(request)
    expr = request.query.get("to", "")[:2000]
    matched = await compose.matches(runtime(request), user.scope, expr, ctx(request).lang)
    return web.json_response(matched)


async def preview(request: web.Request) -> web.StreamResponse:
    form = await request.post()
    text = str(form.get("text", ""))[: announcements.MAX_TEXT]
    title = str(form.get("title", ""))[: announcements.MAX_TITLE] or None
    return web.json_response(compose.previews(text, title))


def _attachments(form: MultiDictProxy[Any]) -> list[OutboundAttachment]:
    files = [
        f for f in form.getall("attachments", []) if isinstance(f, web.FileField) and f.filename
    ]
    if len(files) > MAX_ATTACHMENTS:
        raise InputError(
            f"at most {MAX_ATTACHMENTS} attachments", zh=f"最多只能附 {MAX_ATTACHMENTS} 个附件"
        )
    out = []
    for f in files:
        data = f.file.read(MAX_ATTACHMENT_BYTES + 1)
        if len(data) > MAX_ATTACHMENT_BYTES:
            mb = MAX_ATTACHMENT_BYTES // 1048576
            raise InputError(
                f"{f.filename}: larger than {mb} MB", zh=f"附件「{f.filename}」超过了 {mb} MB"
            )
        out.append(make_attachment(f.filename, data, f.content_type or None))
    return out


async def send(request: web.Request) -> web.StreamResponse:
    require_staff(request)
    _, user = signed_in(request)
    rt = runtime(request)
    form = await request.post()
    to = str(form.get("to", "")).strip()
    await check_audience(TargetDirectory(rt.redis, rt.keys), user.scope, await _resolve(rt, to))
    try:
        send_at = compose.parse_local(str(form.get("send_at", "")))
    except ValueError:
        raise InputError(
            "send at: not a date and time", zh="定时发送：不是有效的日期和时间"
        ) from None
    ann, _ = await announcements.create(
        rt,
        text=str(form.get("text", "")),
        to=to,
        title=str(form.get("title", "")).strip() or None,
        priority=Priority.URGENT if form.get("urgent") else Priority.NORMAL,
        send_at=send_at,
        confirm=bool(form.get("confirm")),
        attachments=_attachments(form),
        # The key is made when the composer is rendered: a double click sends it twice
        # with the same key, and makes one announcement.
        idempotency_key=f"console:{user.name}:{str(form.get('idem', ''))[:64]}"
        if form.get("idem") else None,
        created_by=user.name,
    )  # fmt: skip
    raise web.HTTPSeeOther(f"/console/announcements/{ann.id}")


async def _resolve(rt: Runtime, to: str) -> list[str]:
    from gateway import audience

    return await audience.resolve(TargetDirectory(rt.redis, rt.keys), to)


_STATE_ORDER = {"failed": 0, "queued": 1}


async def _detail(request: web.Request) -> dict[str, Any]:
    _, user = signed_in(request)
    rt = runtime(request)
    detail = await announcements.detail(rt, request.match_info["id"])
    targets = [d["target"] for d in detail["deliveries"]]
    if detail.get("pruned_at"):
        # Its deliveries were pruned (outbox.keep_days); the chats it reached are kept.
        raw = await rt.redis.smembers(rt.keys("announcement", detail["id"], "targets"))
        targets = sorted(str(t) for t in raw)
    try:
        await check_audience(TargetDirectory(rt.redis, rt.keys), user.scope, targets)
    except Forbidden:
        raise NotFound(f"no announcement {detail['id']}", zh=f"没有通知 {detail['id']}") from None
    titles = {t.id: t.title for t in await TargetDirectory(rt.redis, rt.keys).many(targets)}
    for d in detail["deliveries"]:
        d["title"] = titles.get(d["target"]) or ""
    # What failed first, then what is still on its way: the list staff must act on.
    detail["deliveries"].sort(key=lambda d: _STATE_ORDER.get(d.get("state"), 2))
    detail["titles"] = titles
    detail["work"] = await work.WorkStore(rt).of_announcement(detail["id"])
    detail["total_by_platform"] = {p: sum(c.values()) for p, c in detail["by_platform"].items()}
    # The roll-up is in the live part: a confirmation writes a console event, and the page
    # refreshes it like delivery progress.
    detail["rollup"] = await rollup(rt, detail["id"]) if detail.get("confirm") else None
    detail["next_remind"] = await _next_remind(rt, detail["rollup"])
    return detail


async def _next_remind(rt: Runtime, ru: Rollup | None) -> float | None:
    """When the chats still waiting for someone were all reminded within the hour: when the
    next reminder may go (``None``: Remind would send now)."""
    waiting = [c.target for c in ru.chats if c.pending] if ru is not None else []
    if ru is None or not waiting:
        return None
    every = rt.config.confirmations.remind_every_seconds
    blocked = await ConfirmStore(rt.redis, rt.keys).next_reminders(ru.announcement, waiting, every)
    now = time.time()
    later = [t for t in blocked.values() if t > now]
    return min(later) if len(later) == len(waiting) else None


async def announcement_page(request: web.Request) -> web.StreamResponse:
    rt = runtime(request)
    stream_from = await last_id(rt.redis, rt.keys)  # before the read: no change falls between
    detail = await _detail(request)
    previews = compose.previews(detail["text"], detail["title"])
    return aiohttp_jinja2.render_template(
        "announcement.html",
        request,
        page_vars(request, ann=detail, previews=previews, stream_from=stream_from,
                  reminded=request.query.get("reminded", ""), now=time.time()),
    )  # fmt: skip


async def announcement_fragment(request: web.Request) -> web.StreamResponse:
    detail = await _detail(request)
    return aiohttp_jinja2.render_template(
        "announcement_live.html", request, page_vars(request, ann=detail)
    )


async def announcement_action(request: web.Request) -> web.StreamResponse:
    require_staff(request)
    detail = await _detail(request)
    _, user = signed_in(request)
    form = await request.post()
    action = request.match_info["action"]
    if action == "edit":
        await work.submit(runtime(request), detail["id"], "edit",
                          text=str(form.get("text", "")), by=user.name)  # fmt: skip
    elif action == "recall":
        await work.submit(runtime(request), detail["id"], "recall", by=user.name)
    elif action == "remind":
        return await _remind(request, detail["id"])
    else:
        raise no_action(action)
    raise web.HTTPSeeOther(f"/console/announcements/{detail['id']}")


async def _remind(request: web.Request, ann_id: str) -> web.StreamResponse:
    """Remind the pending residents. Once an hour per chat: the page then says when the
    next reminder may go (it reads that itself, so a reload shows the same)."""
    rt = runtime(request)
    try:
        done = await remind(rt, ann_id)
    except Conflict:
        if (await announcements.get(rt, ann_id)).status == announcements.RECALLED:
            raise  # recalled meanwhile: the error page says so (the button is gone now)
        raise web.HTTPSeeOther(f"/console/announcements/{ann_id}?reminded=refused") from None
    sent = sum(1 for r in done if r.result == "sent")
    raise web.HTTPSeeOther(f"/console/announcements/{ann_id}?reminded={sent}")
