"""/api/v1/residents: residents bound to units (households)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from gateway.accounts import Role
from gateway.errors import NotFound
from gateway.households import HouseholdStore, parse_resident
from gateway.http.route import ApiRequest, ApiRoute


class ResidentUnit(BaseModel):
    model_config = ConfigDict(extra="forbid")
    unit: str = Field(min_length=1, max_length=64, description="e.g. 5-302")
    name: str | None = Field(default=None, max_length=200)


def _store(req: ApiRequest) -> HouseholdStore:
    return HouseholdStore(req.rt.redis, req.rt.keys, req.rt.config.households.unit_pattern)


async def list_residents(req: ApiRequest) -> list[dict[str, Any]]:
    building = req.query("building") or None
    return [u.to_json() for u in await _store(req).list(building)]


async def set_resident(req: ApiRequest) -> dict[str, Any]:
    assert isinstance(req.body, ResidentUnit)
    resident = parse_resident(req.path("resident"))
    store = _store(req)
    before = await store.get(resident)
    name = req.body.name or (before.name if before else "")
    unit = await store.bind(resident, req.body.unit, by=req.principal.name, name=name)
    return unit.to_json()


async def unset_resident(req: ApiRequest) -> dict[str, Any]:
    resident = parse_resident(req.path("resident"))
    if not await _store(req).unbind(resident):
        raise NotFound(f"{resident} is not bound to a unit")
    return {"resident": resident, "unit": None}


def routes() -> list[ApiRoute]:
    return [
        ApiRoute("GET", "/residents", Role.VIEWER,
                 "Residents with their units and buildings (?building=5)", list_residents,
                 query=("building",)),
        ApiRoute("PUT", "/residents/{resident}", Role.STAFF,
                 "Bind a resident (telegram:ID or matrix:@user:server) to a unit",
                 set_resident, body=ResidentUnit),
        ApiRoute("DELETE", "/residents/{resident}", Role.STAFF,
                 "Remove a resident's unit", unset_resident),
    ]  # fmt: skip
