"""Who is asking: a role, and optionally a scope that bounds what they see and do."""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum
from typing import Literal

from gateway.accounts.scope import Scope
from gateway.errors import InputError

__all__ = ["Principal", "Role"]


class Role(IntEnum):
    """Ordered: a higher role can do everything a lower one can."""

    VIEWER = 1
    STAFF = 2
    ADMIN = 3

    @classmethod
    def parse(cls, name: str) -> Role:
        try:
            return cls[name.strip().upper()]
        except KeyError:
            raise InputError(f"unknown role {name!r}: use admin, staff or viewer") from None

    @property
    def label(self) -> str:
        return self.name.lower()


@dataclass(frozen=True, slots=True)
class Principal:
    """An authenticated caller: an API token or a staff account (console, ``--as-user``).

    ``scope`` None means unrestricted. ``name`` is what ticket histories record.
    """

    name: str
    role: Role
    scope: Scope | None = None
    kind: Literal["user", "token"] = "token"

    @property
    def scope_expr(self) -> str | None:
        return self.scope.expr if self.scope is not None else None
