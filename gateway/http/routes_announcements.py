"""/api/v1/announcements: create, list, show, edit (PATCH) and recall (DELETE)."""

from __future__ import annotations

import base64
import binascii
from datetime import datetime
from typing import Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from gateway import announcements, work
from gateway.accounts import Role, targets_in_scope, views
from gateway.attachments import MAX_ATTACHMENTS, make_attachment
from gateway.errors import InputError
from gateway.http.route import ApiRequest, ApiRoute, idempotency_key
from gateway.models import OutboundAttachment, Priority
from gateway.outbox import OutboxStore
from gateway.targets import TargetDirectory


class AttachmentIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    filename: str = Field(min_length=1, max_length=255)
    mime: str | None = None
    data: str = Field(description="the file's bytes, base64")


class AnnouncementCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    text: str = Field(min_length=1, max_length=announcements.MAX_TEXT)
    to: str = Field(min_length=1, max_length=2000, description="audience expression")
    title: str | None = Field(default=None, max_length=announcements.MAX_TITLE)
    priority: Literal["normal", "urgent"] = "normal"
    send_at: AwareDatetime | None = None
    attachments: list[AttachmentIn] = Field(default=[], max_length=MAX_ATTACHMENTS)
    confirm: bool = Field(default=False, description="residents confirm they have read it")


class AnnouncementEdit(BaseModel):
    model_config = ConfigDict(extra="forbid")
    text: str = Field(min_length=1, max_length=announcements.MAX_TEXT)


def _attachments(items: list[AttachmentIn]) -> list[OutboundAttachment]:
    out = []
    for a in items:
        try:
            data = base64.b64decode(a.data, validate=True)
        except (binascii.Error, ValueError):
            raise InputError(f"attachments: {a.filename}: data is not valid base64") from None
        out.append(make_attachment(a.filename, data, a.mime))
    return out


def _timestamp(value: datetime | None) -> float | None:
    return value.timestamp() if value is not None else None


async def create(req: ApiRequest) -> dict[str, Any]:
    assert isinstance(req.body, AnnouncementCreate)
    body = req.body
    await views.check_announce(req.rt, req.scope, body.to)
    ann, new = await announcements.create(
        req.rt,
        text=body.text,
        to=body.to,
        title=body.title,
        priority=Priority(body.priority),
        send_at=_timestamp(body.send_at),
        attachments=_attachments(body.attachments),
        idempotency_key=idempotency_key(req),
        created_by=req.principal.name,
        confirm=body.confirm,
    )
    if not new:
        await views.check_replay(req.rt, req.scope, ann.id)
    return {"id": ann.id, "status": ann.status, "targets": ann.target_count}


async def list_all(req: ApiRequest) -> list[dict[str, Any]]:
    raw = req.query("limit", "50")  # given but empty (``?limit=``) is no number: 400
    if not raw or not raw.isdigit() or not 1 <= int(raw) <= 1000:
        raise InputError("limit must be a number from 1 to 1000")
    return [a.to_json() for a in await views.list_announcements(req.rt, req.scope, int(raw))]


async def show(req: ApiRequest) -> dict[str, Any]:
    detail = await views.announcement_detail(req.rt, req.scope, req.path("id"))
    detail["work"] = await work.WorkStore(req.rt).of_announcement(detail["id"])
    return detail


# Edit and recall never wait on a platform's rate limit: they answer 202 with the work's
# id, and each chat's result appears under "work" on GET /announcements/{id} as it comes.
async def edit(req: ApiRequest) -> dict[str, Any]:
    assert isinstance(req.body, AnnouncementEdit)
    await views.check_announcement(req.rt, req.scope, req.path("id"))
    work_id = await work.submit(
        req.rt, req.path("id"), "edit", text=req.body.text, by=req.principal.name
    )
    return {"id": announcements.parse_id(req.path("id")), "work": work_id, "status": "queued"}


async def recall(req: ApiRequest) -> dict[str, Any]:
    await views.check_announcement(req.rt, req.scope, req.path("id"))
    work_id = await work.submit(req.rt, req.path("id"), "recall", by=req.principal.name)
    return {"id": announcements.parse_id(req.path("id")), "work": work_id, "status": "queued"}


async def dead_letters(req: ApiRequest) -> list[dict[str, Any]]:
    store = OutboxStore(req.rt)
    allowed = await targets_in_scope(TargetDirectory(req.rt.redis, req.rt.keys), req.scope)
    dead = await store.many(await store.dead_letters())
    return [d.to_json() for d in dead if allowed is None or d.target in allowed]


def routes() -> list[ApiRoute]:
    one = "/announcements/{id}"
    return [
        ApiRoute(
            "POST", "/announcements", Role.STAFF, "Send an announcement (now or at send_at)",
            create, body=AnnouncementCreate, status=202, headers=("Idempotency-Key",),
        ),
        ApiRoute(
            "GET", "/announcements", Role.VIEWER, "Recent announcements, newest first",
            list_all, query=("limit",),
        ),
        ApiRoute("GET", one, Role.VIEWER, "Status, counts, deliveries and replies", show),
        ApiRoute(
            "PATCH", one, Role.STAFF, "Edit the text everywhere (202: results under GET's work)",
            edit, body=AnnouncementEdit, status=202,
        ),
        ApiRoute(
            "DELETE", one, Role.STAFF, "Recall everywhere (202: results under GET's work)",
            recall, status=202,
        ),
        ApiRoute(
            "GET", "/outbox/dead-letters", Role.VIEWER,
            "Deliveries dead-lettered after repeated worker crashes", dead_letters,
        ),
    ]  # fmt: skip
