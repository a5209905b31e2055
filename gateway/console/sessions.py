"""Server-side console sessions in Redis, and the failed-sign-in slow-down.

The cookie holds only a random token; Redis keeps the session under the token's SHA-256
(a leaked Redis dump does not hand out live cookies), so every palm process accepts it.
Each request pushes the idle expiry out again (12 h). The CSRF token lives in the session.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass
from typing import Any

from redis.asyncio import Redis

from gateway.keys import Keys

IDLE_SECONDS = 12 * 3600
FREE_FAILURES = 5
"""Failed sign-ins in a row for one name before each further attempt must wait."""
FAILURE_MEMORY_SECONDS = 3600
MAX_WAIT_SECONDS = 300


@dataclass(frozen=True, slots=True)
class Session:
    token_hash: str
    name: str
    csrf: str
    created: float


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def same(a: str, b: str) -> bool:
    return bool(a) and hmac.compare_digest(a.encode(), b.encode())


class SessionStore:
    def __init__(self, redis: Redis, keys: Keys) -> None:
        self._r = redis
        self._k = keys

    def _key(self, token_hash: str) -> str:
        return self._k("console", "session", token_hash)

    async def create(self, name: str) -> tuple[str, Session]:
        """A new session for ``name``: the cookie token (shown once) and the session."""
        token = secrets.token_urlsafe(32)
        s = Session(_digest(token), name, secrets.token_urlsafe(24), time.time())
        key = self._key(s.token_hash)
        pipe = self._r.pipeline(transaction=True)
        pipe.hset(key, mapping={"name": name, "csrf": s.csrf, "created": repr(s.created)})
        pipe.expire(key, IDLE_SECONDS)
        await pipe.execute()
        return token, s

    async def load(self, token: str | None) -> Session | None:
        """The session for a cookie token, its idle expiry renewed; ``None`` if gone."""
        if not token or len(token) > 100:
            return None
        h = _digest(token)
        pipe = self._r.pipeline(transaction=False)
        pipe.hgetall(self._key(h))
        pipe.expire(self._key(h), IDLE_SECONDS, xx=True)
        data: Any
        data, _ = await pipe.execute()
        if not data:
            return None
        return Session(h, str(data["name"]), str(data["csrf"]), float(data["created"]))

    async def end(self, s: Session) -> None:
        await self._r.delete(self._key(s.token_hash))


class SignInThrottle:
    """After ``FREE_FAILURES`` failures in a row for a name, attempts must wait, doubling.

    The wait is enforced by refusing early attempts without checking the password, so
    guessing gets slow and the server never sleeps on a request.
    """

    def __init__(self, redis: Redis, keys: Keys) -> None:
        self._r = redis
        self._k = keys

    def _key(self, name: str) -> str:
        return self._k("console", "signin", _digest(name.strip().lower()))

    async def wait_seconds(self, name: str) -> int:
        """How long ``name`` must still wait before the next attempt (0: go ahead)."""
        until: Any = await self._r.hget(self._key(name), "until")
        left = float(until or 0) - time.time()
        return int(left) + 1 if left > 0 else 0

    async def failed(self, name: str) -> None:
        key = self._key(name)
        n = int(await self._r.hincrby(key, "failures", 1))
        if n >= FREE_FAILURES:
            wait = min(MAX_WAIT_SECONDS, 2 ** (n - FREE_FAILURES + 1))
            await self._r.hset(key, "until", repr(time.time() + wait))
        await self._r.expire(key, FAILURE_MEMORY_SECONDS)

    async def succeeded(self, name: str) -> None:
        await self._r.delete(self._key(name))
