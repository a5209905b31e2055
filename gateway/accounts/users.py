"""Staff accounts: people who sign in (the console) with a name and a password.

Layout (under ``Keys``)::

    user:<name>   hash  role, scope, disabled, created, password (argon2id PHC string)
    users         set   every user name

Passwords are hashed with argon2id (argon2-cffi's ``PasswordHasher``, its defaults,
rehashed on sign-in when they change). Hashing is slow on purpose, so it runs in a
thread and never stalls the event loop.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from redis.asyncio import Redis

from gateway.accounts.principal import Principal, Role
from gateway.accounts.scope import Scope
from gateway.accounts.tokens import check_name, valid_name
from gateway.errors import Conflict, InputError, NotFound
from gateway.keys import Keys

__all__ = ["MIN_PASSWORD", "User", "UserStore"]

MIN_PASSWORD = 8
MAX_PASSWORD = 1024


@dataclass(frozen=True, slots=True)
class User:
    name: str
    role: Role
    scope: str | None
    disabled: bool
    created: float

    def principal(self) -> Principal:
        return Principal(self.name, self.role, Scope.parse(self.scope), kind="user")

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "role": self.role.label,
            "scope": self.scope,
            "disabled": self.disabled,
            "created": self.created,
        }


def _user(name: str, h: dict[str, str]) -> User:
    return User(
        name=name,
        role=Role.parse(h["role"]),
        scope=h.get("scope") or None,
        disabled=h.get("disabled") == "1",
        created=float(h.get("created") or 0),
    )


def check_password(password: str) -> str:
    if len(password) < MIN_PASSWORD:
        raise InputError(f"a password must be at least {MIN_PASSWORD} characters")
    if len(password) > MAX_PASSWORD:
        raise InputError(f"a password must be at most {MAX_PASSWORD} characters")
    try:
        password.encode("utf-8")
    except UnicodeEncodeError:
        raise InputError("a password must be valid Unicode text") from None
    return password


class UserStore:
    def __init__(self, redis: Redis, keys: Keys, hasher: PasswordHasher | None = None) -> None:
        self._r = redis
        self._k = keys
        self._ph = hasher or PasswordHasher()
        self._dummy: str | None = None

    def _key(self, name: str) -> str:
        return self._k("user", name)

    async def _hash(self, password: str) -> str:
        return await asyncio.to_thread(self._ph.hash, password)

    async def create(self, name: str, role: Role, password: str, scope: str | None = None) -> User:
        name = check_name(name)
        parsed = Scope.parse(scope)
        hashed = await self._hash(check_password(password))
        if not await self._r.sadd(self._k("users"), name):
            raise Conflict(f"a user named {name!r} exists")
        fields: dict[str, str] = {
            "role": role.label,
            "scope": parsed.expr if parsed else "",
            "disabled": "0",
            "created": repr(time.time()),
            "password": hashed,
        }
        mapping: Any = fields
        await self._r.hset(self._key(name), mapping=mapping)
        return _user(name, fields)

    async def get(self, name: str) -> User | None:
        valid = valid_name(name)
        h: Any = await self._r.hgetall(self._key(valid)) if valid else None
        return _user(valid, h) if valid and h else None

    async def require(self, name: str) -> User:
        user = await self.get(name)
        if user is None:
            raise NotFound(f"no user named {name.strip()!r} (see palm users list)")
        return user

    async def list(self) -> list[User]:
        names = sorted(str(n) for n in await self._r.smembers(self._k("users")))
        pipe = self._r.pipeline(transaction=False)
        for n in names:
            pipe.hgetall(self._key(n))
        return [_user(n, h) for n, h in zip(names, await pipe.execute(), strict=True) if h]

    async def verify(self, name: str, password: str) -> User | None:
        """The user when the password is right and the account enabled, else None.

        An unknown name still costs one argon2 verification, so the time taken does
        not tell whether the name exists.
        """
        valid = valid_name(name)
        h: Any = await self._r.hgetall(self._key(valid)) if valid else None
        stored = h.get("password") if h else None
        if stored is None:
            if self._dummy is None:
                self._dummy = await self._hash("not a password, only a decoy")
            await self._check(self._dummy, password)
            return None
        if not await self._check(stored, password) or h.get("disabled") == "1":
            return None
        assert valid is not None
        if self._ph.check_needs_rehash(stored):
            await self._r.hset(self._key(valid), "password", await self._hash(password))
        return _user(valid, h)

    async def _check(self, stored: str, password: str) -> bool:
        try:
            return await asyncio.to_thread(self._ph.verify, stored, password)
        except (VerificationError, InvalidHashError, UnicodeEncodeError):
            return False

    async def set_password(self, name: str, password: str) -> None:
        user = await self.require(name)
        hashed = await self._hash(check_password(password))
        await self._r.hset(self._key(user.name), "password", hashed)

    async def disable(self, name: str) -> None:
        user = await self.require(name)
        await self._r.hset(self._key(user.name), "disabled", "1")

    async def enable(self, name: str) -> None:
        user = await self.require(name)
        await self._r.hset(self._key(user.name), "disabled", "0")
