"""/api/v1/targets/{id}/approve and /reject (admin), and ``GET /targets?status=``."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from gateway.accounts import Role, check_target
from gateway.admission.gate import Admission
from gateway.errors import InputError
from gateway.http.route import ApiRequest, ApiRoute
from gateway.targets import Target, parse_target_id
from gateway.targets_lua import APPROVED

STATUSES = ("active", "inactive", "pending", "rejected")


class ApproveBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    tags: list[str] = Field(default=[], max_length=100, description="tags to add on approval")


def status_of(t: Target) -> str:
    """``active`` (selectable), ``inactive`` (approved, but the bot cannot post there),
    ``pending`` or ``rejected``."""
    if t.admission != APPROVED:
        return t.admission
    return "active" if t.active else "inactive"


def status_filter(raw: str | None) -> str | None:
    if raw is None or raw == "":
        return None
    if raw not in STATUSES:
        raise InputError(f"status: expected one of {', '.join(STATUSES)}, got {raw!r}")
    return raw


async def approve_target(req: ApiRequest) -> dict[str, Any]:
    assert isinstance(req.body, ApproveBody)
    admission = Admission(req.rt)
    target_id = parse_target_id(req.path("id"))
    # A pending chat has no tags yet, so only an admin without a scope can let it in.
    await check_target(admission.targets, req.scope, target_id)
    target = await admission.approve(target_id, req.body.tags)
    return target.to_json()


async def reject_target(req: ApiRequest) -> dict[str, Any]:
    admission = Admission(req.rt)
    target_id = parse_target_id(req.path("id"))
    await check_target(admission.targets, req.scope, target_id)
    target = await admission.reject(target_id)
    return target.to_json()


def routes() -> list[ApiRoute]:
    return [
        ApiRoute("POST", "/targets/{id}/approve", Role.ADMIN,
                 "Approve a pending chat (body {} or {tags}); it becomes selectable",
                 approve_target, body=ApproveBody),
        ApiRoute("POST", "/targets/{id}/reject", Role.ADMIN,
                 "Reject a chat; the bot leaves it", reject_target),
    ]  # fmt: skip
