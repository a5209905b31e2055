"""``palm doctor`` for Matrix: the homeserver answers and the token is the bot's (whoami)."""

from __future__ import annotations

import logging

import nio

from adapters.matrix.client import SessionStore
from adapters.matrix.errors import TRANSPORT_ERRORS
from gateway.ops.doctor import Finding, fail, ok, warn
from gateway.runtime import Runtime


async def doctor(rt: Runtime) -> list[Finding]:
    config = rt.config.platforms.matrix
    if config is None:
        return []
    token = config.access_token.get_secret_value() if config.access_token else None
    if token is None:
        stored = await SessionStore(rt.redis, rt.keys, config.user_id).load()
        token = stored.access_token if stored else None
    if token is None:
        return [warn("matrix", "no access token and no stored session yet",
                     "palm run logs in with password_env once and keeps the session")]  # fmt: skip
    # nio logs an error body it cannot parse at ERROR level; doctor prints its own line.
    logging.getLogger("nio.responses").setLevel(logging.CRITICAL)
    client = nio.AsyncClient(config.homeserver, config.user_id)
    client.access_token = token
    try:
        resp = await client.whoami()
    except TRANSPORT_ERRORS as exc:
        return [fail("matrix", f"{config.homeserver} does not answer: {exc}",
                     "check platforms.matrix.homeserver and the network")]  # fmt: skip
    finally:
        await client.close()
    if not isinstance(resp, nio.WhoamiResponse):
        return [fail("matrix", f"whoami: {resp.status_code} {resp.message}",
                     "make a new access token for the bot (or use password_env)")]  # fmt: skip
    if resp.user_id != config.user_id:
        return [fail("matrix", f"the token belongs to {resp.user_id}, not {config.user_id}",
                     "use the bot's own access token")]  # fmt: skip
    return [ok("matrix", f"signed in as {resp.user_id} on {config.homeserver}")]
