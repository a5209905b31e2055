"""/api/v1/targets: list (viewer) and re-tag (admin)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from gateway.accounts import Role, check_retag, views
from gateway.admission.routes import status_filter, status_of
from gateway.http.route import ApiRequest, ApiRoute
from gateway.targets import TargetDirectory, parse_target_id


class TargetPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")
    tags: list[str] = Field(max_length=100, description="the target's complete new tag list")


async def list_targets(req: ApiRequest) -> list[dict[str, Any]]:
    status = status_filter(req.query("status"))
    targets = await views.list_targets(req.rt, req.scope, req.query("tag") or None)
    return [t.to_json() for t in targets if status is None or status_of(t) == status]


async def patch_target(req: ApiRequest) -> dict[str, Any]:
    assert isinstance(req.body, TargetPatch)
    directory = TargetDirectory(req.rt.redis, req.rt.keys)
    target_id = parse_target_id(req.path("id"))
    await check_retag(directory, req.scope, target_id, req.body.tags)
    target = await directory.set_tags(target_id, req.body.tags)
    return target.to_json()


def routes() -> list[ApiRoute]:
    return [
        ApiRoute("GET", "/targets", Role.VIEWER, "Targets with kind, tags and state",
                 list_targets, query=("tag", "status")),
        ApiRoute("PATCH", "/targets/{id}", Role.ADMIN, "Replace a target's tags",
                 patch_target, body=TargetPatch),
    ]  # fmt: skip
