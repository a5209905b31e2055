"""``--as-user NAME`` on the read commands: see exactly what that staff account sees.

The CLI itself talks to Redis directly, so it is unrestricted; an admin checking
someone's scope passes their name and gets the same filtered view the API and the
console give them (``gateway.accounts.views``).
"""

from __future__ import annotations

import argparse

from gateway.accounts import Scope, UserStore
from gateway.runtime import Runtime


def add_as_user(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--as-user", metavar="NAME", help="show only what the staff account NAME may see"
    )


async def scope_of(args: argparse.Namespace, rt: Runtime) -> Scope | None:
    """The scope of ``--as-user`` (None: no such option or an unscoped account)."""
    name = getattr(args, "as_user", None)
    if not name:
        return None
    user = await UserStore(rt.redis, rt.keys).require(name)
    return Scope.parse(user.scope)
