"""API tokens: stored as SHA-256 hashes in Redis, shown once at creation.

Layout (under ``Keys``)::

    token:<sha256>        hash    name, role, scope, created, expires, last_used
    token:<sha256>:seen   string  last_used gate: SET NX EX 60
    tokens:byname         hash    name -> sha256 (list, revoke, unique names)

State lives in Redis only: every request reads the token's hash, so a revoke or an
expiry holds at once on every palm process (there is no cache to outlive it).
A SHA-256 is enough here (not argon2): a token has 256 random bits, nothing to guess.
"""

from __future__ import annotations

import hashlib
import secrets
import time
from dataclasses import dataclass
from typing import Any

from redis.asyncio import Redis

from gateway.accounts.principal import Principal, Role
from gateway.accounts.scope import Scope
from gateway.errors import Conflict, InputError, NotFound, Unauthorized
from gateway.keys import Keys

__all__ = ["TOKEN_PREFIX", "TokenInfo", "TokenStore"]

TOKEN_PREFIX = "palm_"
SEEN_EVERY = 60  # seconds: last_used is written at most this often per token

# One round trip per request: read the token, and at most once a minute (the SET NX
# gate) record when it was used. Legacy tokens (before names were indexed) join the
# name index here, so `palm tokens list` finds them after their first use.
_AUTH = """
local h = redis.call('HGETALL', KEYS[1])
if #h == 0 then return h end
if redis.call('SET', KEYS[2], '1', 'NX', 'EX', ARGV[2]) then
  redis.call('HSET', KEYS[1], 'last_used', ARGV[1])
  local name = redis.call('HGET', KEYS[1], 'name')
  redis.call('HSETNX', KEYS[3], name, ARGV[3])
end
return h
"""


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def check_name(name: str) -> str:
    """1 to 64 printable characters (so no lone surrogates, which Redis could not store)."""
    name = name.strip()
    if not name or len(name) > 64 or not name.isprintable():
        raise InputError("a name must be 1 to 64 printable characters")
    return name


def valid_name(name: str) -> str | None:
    """The name to look up, or None when no account or token can have it."""
    try:
        return check_name(name)
    except InputError:
        return None


@dataclass(frozen=True, slots=True)
class TokenInfo:
    """What ``palm tokens list`` shows: never the token or its hash."""

    name: str
    role: Role
    scope: str | None
    created: float
    expires: float | None
    last_used: float | None

    @property
    def expired(self) -> bool:
        return self.expires is not None and self.expires <= time.time()

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "role": self.role.label,
            "scope": self.scope,
            "created": self.created,
            "expires": self.expires,
            "last_used": self.last_used,
            "expired": self.expired,
        }


def _num(raw: str | None) -> float | None:
    return float(raw) if raw else None


def _info(h: dict[str, str]) -> TokenInfo:
    return TokenInfo(
        name=h["name"],
        role=Role.parse(h["role"]),
        scope=h.get("scope") or None,
        created=float(h.get("created") or 0),
        expires=_num(h.get("expires")),
        last_used=_num(h.get("last_used")),
    )


class TokenStore:
    def __init__(self, redis: Redis, keys: Keys) -> None:
        self._r = redis
        self._k = keys
        self._auth = redis.register_script(_AUTH)

    @property
    def _byname(self) -> str:
        return self._k("tokens", "byname")

    async def create(
        self,
        name: str,
        role: Role,
        scope: str | None = None,
        expires_in: float | None = None,
    ) -> str:
        """Make a token for ``name``; the plain token is returned once and never stored.

        ``Conflict`` if a token of that name exists (revoke it first).
        """
        name = check_name(name)
        parsed = Scope.parse(scope)
        if expires_in is not None and expires_in <= 0:
            raise InputError("expires: must be in the future")
        token = TOKEN_PREFIX + secrets.token_urlsafe(32)
        digest = _digest(token)
        if not await self._r.hsetnx(self._byname, name, digest):
            raise Conflict(f"a token named {name!r} exists; revoke it first or pick another name")
        now = time.time()
        await self._r.hset(
            self._k("token", digest),
            mapping={
                "name": name,
                "role": role.label,
                "scope": parsed.expr if parsed else "",
                "created": repr(now),
                "expires": repr(now + expires_in) if expires_in is not None else "",
            },
        )
        return token

    async def authenticate(self, token: str | None) -> Principal:
        if not token:
            raise Unauthorized("missing bearer token")
        digest = _digest(token)
        keys = [self._k("token", digest), self._k("token", digest, "seen"), self._byname]
        flat: list[Any] = await self._auth(keys=keys, args=[repr(time.time()), SEEN_EVERY, digest])
        if not flat:
            raise Unauthorized("unknown or revoked token")
        h = {str(flat[i]): str(flat[i + 1]) for i in range(0, len(flat), 2)}
        expires = _num(h.get("expires"))
        if expires is not None and expires <= time.time():
            raise Unauthorized("the token has expired")
        return Principal(
            name=h["name"],
            role=Role.parse(h["role"]),
            scope=Scope.parse(h.get("scope")),
            kind="token",
        )

    async def list(self) -> list[TokenInfo]:
        byname: Any = await self._r.hgetall(self._byname)
        names = sorted(byname)
        pipe = self._r.pipeline(transaction=False)
        for n in names:
            pipe.hgetall(self._k("token", byname[n]))
        return [_info(h) for h in await pipe.execute() if h]

    async def revoke(self, name: str) -> None:
        """Delete the token: the next request with it, on any process, gets 401."""
        valid = valid_name(name)
        digest: Any = await self._r.hget(self._byname, valid) if valid else None
        if digest is None:
            raise NotFound(f"no token named {name!r} (see palm tokens list)")
        pipe = self._r.pipeline(transaction=True)
        pipe.delete(self._k("token", digest), self._k("token", digest, "seen"))
        pipe.hdel(self._byname, name)
        await pipe.execute()
