"""What a unit is: ``5-302`` in ``building:5``. Pure functions, no Redis."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from gateway.errors import InputError
from gateway.households.config import DEFAULT_UNIT_PATTERN
from gateway.safety.inert import visible

# Residents type units on phones: full-width digits and dashes are the same unit.
_FOLD = str.maketrans("０１２３４５６７８９－—–‐", "0123456789----")


@dataclass(frozen=True, slots=True)
class Unit:
    """One resident bound to one unit (a household)."""

    resident: str
    """``PLATFORM:USER_ID``, e.g. ``telegram:4242`` or ``matrix:@li:example.org``."""
    unit: str
    building: str | None
    bound_at: float
    by: str = ""
    """Who bound it: ``self`` (the resident's /unit) or a staff name."""
    name: str = ""
    """The resident's display name when it was bound (for lists and reminders)."""

    def to_json(self) -> dict[str, object]:
        return {
            "resident": self.resident, "unit": self.unit, "building": self.building,
            "bound_at": self.bound_at, "by": self.by, "name": self.name,
        }  # fmt: skip


@lru_cache(maxsize=16)
def _compiled(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern)


def normalise_unit(text: str) -> str:
    return text.strip().translate(_FOLD).upper()


def parse_unit(text: str, pattern: str = DEFAULT_UNIT_PATTERN) -> str:
    """The unit as stored; ``InputError`` when it does not match ``pattern``."""
    unit = normalise_unit(text)
    if not unit or _compiled(pattern).fullmatch(unit) is None:
        default = pattern == DEFAULT_UNIT_PATTERN
        example = "5-302" if default else "the configured format"
        how = "应写成 楼号-房号，如 5-302" if default else "应符合本小区设定的房号格式"
        raise InputError(
            f"{text.strip()!r} is not a unit (expected building-unit, like {example})",
            zh=f"「{visible(text.strip(), one_line=True)}」不是房号（{how}）",
        )
    return unit


def building_of(unit: str, pattern: str = DEFAULT_UNIT_PATTERN) -> str | None:
    """``5-302`` -> ``5``; ``None`` when ``unit`` does not match ``pattern``."""
    m = _compiled(pattern).fullmatch(normalise_unit(unit))
    if m is None:
        return None
    building = m.group("building")
    return building if building else None


def parse_resident(text: str) -> str:
    """``telegram:4242`` / ``matrix:@li:example.org`` -> the same, checked."""
    platform, sep, user = text.strip().partition(":")
    ok = sep and (
        (platform == "telegram" and user.lstrip("-").isdigit())
        or (platform == "matrix" and user.startswith("@") and ":" in user)
    )
    if not ok:
        raise InputError(
            f"{text!r} is not a resident (expected telegram:USER_ID or matrix:@user:server)",
            zh=f"「{visible(text, one_line=True)}」不是居民编号"
            "（应像 telegram:用户ID 或 matrix:@用户:服务器 这样）",
        )
    return f"{platform}:{user}"
