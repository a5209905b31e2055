"""Residents bound to units, in Redis.

``households:resident`` maps ``PLATFORM:USER_ID`` to the binding's JSON; a household
is every resident bound to the same unit, so one household can have residents on
both platforms. A rebinding simply replaces the resident's entry (one HSET: atomic,
and a replay writes the same thing again).
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable
from typing import Any

from redis.asyncio import Redis

from gateway.households.config import DEFAULT_UNIT_PATTERN
from gateway.households.units import Unit, building_of, parse_unit
from gateway.keys import Keys


class HouseholdStore:
    def __init__(self, redis: Redis, keys: Keys, pattern: str = DEFAULT_UNIT_PATTERN) -> None:
        self.redis = redis
        self.pattern = pattern
        self.key = keys("households", "resident")

    async def bind(self, resident: str, unit: str, *, by: str = "", name: str = "") -> Unit:
        """Bind ``resident`` to ``unit`` (checked against the pattern); returns the binding."""
        clean = parse_unit(unit, self.pattern)
        bound = Unit(resident, clean, building_of(clean, self.pattern), time.time(), by, name)
        record = {"unit": bound.unit, "at": bound.bound_at, "by": by, "name": name}
        await self.redis.hset(self.key, resident, json.dumps(record, ensure_ascii=False))
        return bound

    async def unbind(self, resident: str) -> bool:
        return bool(await self.redis.hdel(self.key, resident))

    async def get(self, resident: str) -> Unit | None:
        raw: Any = await self.redis.hget(self.key, resident)
        return self._unit(resident, raw) if raw else None

    async def unit_of(self, resident: str) -> str | None:
        found = await self.get(resident)
        return found.unit if found else None

    async def units_of(self, residents: Iterable[str]) -> dict[str, str]:
        """The unit of each resident that has one (others are left out)."""
        wanted = list(dict.fromkeys(residents))
        out: dict[str, str] = {}
        for i in range(0, len(wanted), 500):
            chunk = wanted[i : i + 500]
            raws: Any = await self.redis.hmget(self.key, chunk)
            for resident, raw in zip(chunk, raws, strict=True):
                if raw:
                    out[resident] = self._unit(resident, raw).unit
        return out

    async def list(self, building: str | None = None) -> list[Unit]:
        """Every binding (of ``building``), by building, unit and resident."""
        rows: dict[str, str] = {}
        async for field, raw in self.redis.hscan_iter(self.key, count=1000):
            rows[field] = raw
        units = [self._unit(r, raw) for r, raw in rows.items()]
        if building is not None:
            units = [u for u in units if u.building == building]
        return sorted(units, key=lambda u: (u.building or "", u.unit, u.resident))

    def _unit(self, resident: str, raw: str | bytes) -> Unit:
        d = json.loads(raw)
        unit = str(d.get("unit", ""))
        return Unit(
            resident, unit, building_of(unit, self.pattern), float(d.get("at", 0.0)),
            str(d.get("by", "")), str(d.get("name", "")),
        )  # fmt: skip
