"""``households:`` in the config: how a unit is written.

Pure pydantic, imported by ``gateway.config``: nothing here may import the rest of
the gateway at module level (the config is loaded before anything else exists).
"""

from __future__ import annotations

import re

from pydantic import BaseModel, ConfigDict, field_validator

DEFAULT_UNIT_PATTERN = r"^(?P<building>[0-9A-Za-z]{1,8})-(?P<room>[0-9A-Za-z]{1,8})$"
"""``building-unit`` (``5-302``): the building is what comes before the hyphen."""


class HouseholdsConfig(BaseModel):
    """``households: {unit_pattern: '^(?P<building>\\d+)-(?P<room>\\d+)$'}``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    unit_pattern: str = DEFAULT_UNIT_PATTERN
    """A regex a unit must match in full; its ``building`` group names the building."""

    @field_validator("unit_pattern")
    @classmethod
    def _pattern(cls, v: str) -> str:
        try:
            compiled = re.compile(v)
        except re.error as exc:
            raise ValueError(f"not a valid regular expression: {exc}") from None
        if "building" not in compiled.groupindex:
            raise ValueError("the pattern needs a named group (?P<building>...)")
        return v
