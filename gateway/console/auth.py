"""Staff accounts as the console sees them: the one bridge to ``gateway.accounts``.

The console keeps no users of its own; the account (role, scope, disabled) is read on
every request, so disabling an account or changing its scope takes effect at once.
"""

from __future__ import annotations

from gateway.accounts import Principal, User, UserStore
from gateway.runtime import Runtime


def _principal(user: User | None) -> Principal | None:
    return None if user is None or user.disabled else user.principal()


async def account_principal(rt: Runtime, name: str) -> Principal | None:
    return _principal(await UserStore(rt.redis, rt.keys).get(name))


async def verify(rt: Runtime, name: str, password: str) -> Principal | None:
    return _principal(await UserStore(rt.redis, rt.keys).verify(name, password))
