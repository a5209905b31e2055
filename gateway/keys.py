"""Redis key naming. Every key palm writes starts with the configured prefix.

Tests give each run its own prefix, so they never touch each other's data, and
several gateways could share one Redis database if they had to.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Keys:
    prefix: str = "palm:"

    def __call__(self, *parts: str | int) -> str:
        """``keys("ticket", 42)`` -> ``"palm:ticket:42"``."""
        return self.prefix + ":".join(str(p) for p in parts)

    def pattern(self) -> str:
        """A SCAN pattern matching every key under this prefix."""
        return self.prefix + "*"
