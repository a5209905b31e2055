"""The matrix-nio client, configured to be safe for a gateway, plus login and raw calls.

nio's defaults are changed on purpose:

- ``max_limit_exceeded=0``: nio would otherwise sleep and retry every 429 forever
  inside ``_send``; with 0 it hands the ``M_LIMIT_EXCEEDED`` answer back to us and we
  raise ``RateLimited`` so the core's worker waits (and the shared limiter pauses).
- ``max_timeouts=0``: a transport error is raised at once (we translate it once).
- ``store_sync_tokens=False`` and no encryption store: palm owns the ``since`` token
  (saved in Redis only after a batch is durable) and keeps nothing on disk.

``/sync`` and ``/messages`` are fetched as raw JSON through nio's HTTP session, so the
normaliser works on the server's JSON and one odd event can never fail a whole batch
in nio's schema validation.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, urlencode

import nio
from redis.asyncio import Redis
from redis.exceptions import RedisError

from adapters.matrix import errors
from gateway.config import MatrixConfig
from gateway.errors import ConfigError, StoreUnavailable
from gateway.keys import Keys

log = logging.getLogger(__name__)

CLIENT_PATH = "/_matrix/client/v3"
_BAD_TOKEN = ("M_UNKNOWN_TOKEN", "M_MISSING_TOKEN")


@dataclass(frozen=True, slots=True)
class StoredSession:
    device_id: str
    access_token: str = field(repr=False)


def make_client(config: MatrixConfig, request_timeout: float) -> nio.AsyncClient:
    cfg = nio.AsyncClientConfig(
        max_limit_exceeded=0,
        max_timeouts=0,
        store_sync_tokens=False,
        encryption_enabled=False,
        request_timeout=request_timeout,
    )
    return nio.AsyncClient(
        config.homeserver.rstrip("/"), config.user_id, store_path=None, config=cfg
    )


def text(value: str | bytes) -> str:
    """Redis answers are str or bytes, depending on how the core made its client."""
    return value.decode() if isinstance(value, bytes) else value


class SessionStore:
    """Device id and token of a password login, kept in Redis and reused on restart.

    Synapse dedupes transaction ids per device: logging in afresh on every start
    would make a resumed send post twice.
    """

    def __init__(self, redis: Redis, keys: Keys, user_id: str) -> None:
        self._redis = redis
        self._key = keys("matrix", user_id, "session")

    async def load(self) -> StoredSession | None:
        with _store_errors():
            data = await self._redis.hgetall(self._key)
        found = {text(k): text(v) for k, v in data.items()}
        if found.get("device_id") and found.get("access_token"):
            return StoredSession(found["device_id"], found["access_token"])
        return None

    async def crypto_session(self) -> StoredSession | None:
        """The device whose crypto store was created (its keys are on the server), and
        its token when it is not the login's own device (after a lost store)."""
        with _store_errors():
            found = await self._redis.hmget(self._key, ["crypto_device", "crypto_token"])
        device, token = (text(v) if v else "" for v in found)
        return StoredSession(device, token) if device else None

    async def mark_crypto(self, session: StoredSession) -> None:
        await self._put("crypto_device", "crypto_token", session)

    async def save(self, session: StoredSession) -> None:
        await self._put("device_id", "access_token", session)

    async def _put(self, device_field: str, token_field: str, session: StoredSession) -> None:
        with _store_errors():
            await self._redis.hset(
                self._key,
                mapping={device_field: session.device_id, token_field: session.access_token},
            )


@contextmanager
def _store_errors() -> Iterator[None]:
    """Redis errors of the session store, as the core's ``StoreUnavailable``."""
    try:
        yield
    except (RedisError, OSError) as exc:
        raise StoreUnavailable(f"matrix session: {exc}") from exc


async def whoami(client: nio.AsyncClient) -> nio.WhoamiResponse | nio.ErrorResponse:
    try:
        resp = await client.whoami()
    except errors.TRANSPORT_ERRORS as exc:
        errors.raise_transport(exc, "whoami")
    return resp


async def login(client: nio.AsyncClient, config: MatrixConfig, sessions: SessionStore) -> None:
    """Authenticate ``client``: a configured token, a stored session, or a password login."""
    if config.access_token is not None:
        client.access_token = config.access_token.get_secret_value()
        who = await whoami(client)
        if not isinstance(who, nio.WhoamiResponse):
            if who.status_code in _BAD_TOKEN:
                raise ConfigError(f"access token rejected: {who.message}", key="platforms.matrix")
            raise errors.from_nio(who, action="whoami")
        _check_user(who.user_id, config)
        client.restore_login(config.user_id, who.device_id or "", client.access_token)
        return
    stored = await sessions.load()
    if stored is not None:
        client.restore_login(config.user_id, stored.device_id, stored.access_token)
        who = await whoami(client)
        if isinstance(who, nio.WhoamiResponse):
            return
        if who.status_code not in _BAD_TOKEN:
            raise errors.from_nio(who, action="whoami")
        log.warning("matrix: stored token no longer valid; logging in again on the same device")
    await _password_login(client, config, sessions, stored.device_id if stored else None)


async def new_device(client: nio.AsyncClient, config: MatrixConfig) -> StoredSession:
    """A brand-new device for the crypto client (the old one's keys are lost with its
    store). ``client`` keeps its own device: Synapse dedupes transaction ids per device,
    so a send resumed after a crash must go out on the device that began it."""
    if config.password is None:
        raise ConfigError(
            "the crypto store of the configured access token's device is lost: make a new"
            " access token (a new device) or configure password_env",
            key="platforms.matrix.e2e",
        )
    resp = await _scratch_login(client, config, None)
    return StoredSession(resp.device_id, resp.access_token)


async def _password_login(
    client: nio.AsyncClient, config: MatrixConfig, sessions: SessionStore, device_id: str | None
) -> None:
    resp = await _scratch_login(client, config, device_id)
    await sessions.save(StoredSession(resp.device_id, resp.access_token))
    client.restore_login(resp.user_id, resp.device_id, resp.access_token)


async def _scratch_login(
    client: nio.AsyncClient, config: MatrixConfig, device_id: str | None
) -> nio.LoginResponse:
    """A password login on a scratch client (``device_id``: the same device again, its
    txn ids stay valid). ``client`` may be sending meanwhile, and nio refuses every call
    while a client's token is blank: its token is replaced only once the new one exists."""
    assert config.password is not None  # the config validator requires one of the two
    scratch = nio.AsyncClient(client.homeserver, config.user_id, config=client.config)
    scratch.device_id = device_id
    try:
        resp = await scratch.login(config.password.get_secret_value(), config.device_name)
    except errors.TRANSPORT_ERRORS as exc:
        errors.raise_transport(exc, "login")
    finally:
        await scratch.close()
    if not isinstance(resp, nio.LoginResponse):
        err = errors.from_nio(resp, action="login")
        if err.code in ("rate_limited", "unavailable"):
            raise err
        raise ConfigError(f"password login failed: {err.message}", key="platforms.matrix")
    _check_user(resp.user_id, config)
    return resp


def _check_user(actual: str, config: MatrixConfig) -> None:
    if actual != config.user_id:
        raise ConfigError(
            f"the credentials belong to {actual}, not {config.user_id}", key="platforms.matrix"
        )


async def get_json(
    client: nio.AsyncClient,
    path: str,
    params: Mapping[str, str | int],
    *,
    timeout: float,  # noqa: ASYNC109 - handed to nio as the HTTP bound
    action: str,
) -> dict[str, Any]:
    """GET a client-API path as raw JSON; errors come out translated."""
    url = f"{CLIENT_PATH}{path}?{urlencode(params)}" if params else f"{CLIENT_PATH}{path}"
    headers = {"Authorization": f"Bearer {client.access_token}"}
    try:
        resp = await client.send("GET", url, None, headers, timeout=timeout)
        async with resp:
            text = await resp.text()
            status, resp_headers = resp.status, resp.headers
    except errors.TRANSPORT_ERRORS as exc:
        errors.raise_transport(exc, action)
    try:
        body = json.loads(text)
    except ValueError:
        body = None
    if status != 200 or not isinstance(body, dict):
        raise errors.from_json(status, body, resp_headers, action=action)
    return body


def room_path(room_id: str, *rest: str) -> str:
    return "/rooms/" + "/".join(quote(p, safe="") for p in (room_id, *rest))
