"""API tokens: stored as SHA-256 hashes in Redis, shown once at creation."""

from __future__ import annotations

import hashlib
import secrets
import time
from dataclasses import dataclass
from enum import IntEnum

from redis.asyncio import Redis

from gateway.errors import InputError, Unauthorized
from gateway.keys import Keys


class Role(IntEnum):
    """Ordered: a higher role can do everything a lower one can."""

    VIEWER = 1
    STAFF = 2
    ADMIN = 3

    @classmethod
    def parse(cls, name: str) -> Role:
        try:
            return cls[name.upper()]
        except KeyError:
            raise InputError(f"unknown role {name!r}: use admin, staff or viewer") from None

    @property
    def label(self) -> str:
        return self.name.lower()


@dataclass(frozen=True, slots=True)
class Principal:
    name: str
    role: Role


TOKEN_PREFIX = "palm_"


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class TokenStore:
    def __init__(self, redis: Redis, keys: Keys) -> None:
        self._redis = redis
        self._keys = keys

    async def create(self, name: str, role: Role) -> str:
        """Make a token for ``name``; the plain token is returned once and never stored."""
        name = name.strip()
        if not name or len(name) > 64:
            raise InputError("a token name must be 1 to 64 characters")
        token = TOKEN_PREFIX + secrets.token_urlsafe(32)
        await self._redis.hset(
            self._keys("token", _digest(token)),
            mapping={"name": name, "role": role.label, "created": str(time.time())},
        )
        return token

    async def authenticate(self, token: str | None) -> Principal:
        if not token:
            raise Unauthorized("missing bearer token")
        data = await self._redis.hgetall(self._keys("token", _digest(token)))
        if not data:
            raise Unauthorized("unknown or revoked token")
        return Principal(name=str(data["name"]), role=Role.parse(str(data["role"])))
