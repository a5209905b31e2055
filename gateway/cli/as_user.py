"""``--as-user NAME`` on the read commands: see exactly what that staff account sees.

The CLI itself talks to Redis directly, so it is unrestricted; an admin checking
someone's scope passes their name and gets the same filtered view the API and the
console give them (``gateway.accounts.views``).
"""

from __future__ import annotations

import argparse

from gateway.accounts import Role, Scope, UserStore
from gateway.errors import Forbidden
from gateway.runtime import Runtime


def add_as_user(parser: argparse.ArgumentParser, acts: bool = False) -> None:
    what = "act as the staff account NAME, within its role and scope" if acts else (
        "show only what the staff account NAME may see")  # fmt: skip
    parser.add_argument("--as-user", metavar="NAME", help=what)


async def acting_user(args: argparse.Namespace, rt: Runtime, role: Role) -> str | None:
    """For a command that acts (``palm announce``): ``--as-user NAME`` must hold ``role``;
    returns NAME (the actor to record), or None without the option."""
    name = getattr(args, "as_user", None)
    if not name:
        return None
    user = await UserStore(rt.redis, rt.keys).require(name)
    if user.role < role:
        raise Forbidden(f"{user.name} is {user.role.label}; this needs {role.label}")
    return user.name


async def scope_of(args: argparse.Namespace, rt: Runtime) -> Scope | None:
    """The scope of ``--as-user`` (None: no such option or an unscoped account)."""
    name = getattr(args, "as_user", None)
    if not name:
        return None
    user = await UserStore(rt.redis, rt.keys).require(name)
    return Scope.parse(user.scope)
