"""The one table from Matrix errors to ``gateway.errors``.

matrix-nio *returns* ``ErrorResponse`` objects for HTTP errors and *raises* aiohttp /
timeout exceptions for transport failures; both come through here exactly once.
Matrix sends are idempotent by transaction id, so every transport failure is a plain
``NetworkError`` (resending cannot duplicate), never ``AmbiguousSend``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, NoReturn

import aiohttp

from gateway import metrics
from gateway.errors import (
    GatewayError,
    NetworkError,
    PermanentError,
    RateLimited,
    Rejected,
    RetryableError,
    TargetGone,
)

DEFAULT_RETRY_AFTER = 5.0
"""When a 429 names no delay (Synapse always does; other servers may not)."""

TRANSPORT_ERRORS: tuple[type[BaseException], ...] = (
    aiohttp.ClientError,
    TimeoutError,
    OSError,
)

_GONE = {
    "M_FORBIDDEN": "forbidden: the bot is not allowed in this room",
    "M_NOT_FOUND": "room not found",
    "M_UNKNOWN_ROOM": "room not found",
}
_REJECTED = {"M_TOO_LARGE", "M_BAD_JSON", "M_NOT_JSON", "M_INVALID_PARAM", "M_UNRECOGNIZED"}


def retry_after_seconds(retry_after_ms: Any, header: str | None) -> float:
    """``retry_after_ms`` from the body, else the ``Retry-After`` header (seconds)."""
    if isinstance(retry_after_ms, int | float) and not isinstance(retry_after_ms, bool):
        return max(0.0, float(retry_after_ms) / 1000.0)
    if header:
        try:
            return max(0.0, float(header))
        except ValueError:
            pass
    return DEFAULT_RETRY_AFTER


def error_for(
    status: int | None,
    errcode: str | None,
    message: str,
    *,
    retry_after_ms: Any = None,
    retry_after_header: str | None = None,
    scope: str | None = None,
    action: str = "request",
) -> GatewayError:
    """Build the gateway error for one Matrix error answer."""
    text = f"matrix {action}: {errcode or status}: {message}"
    if errcode == "M_LIMIT_EXCEEDED" or status == 429:
        metrics.RATE_LIMITED.labels(platform="matrix").inc()
        delay = retry_after_seconds(retry_after_ms, retry_after_header)
        return RateLimited(text, retry_after=delay, scope=scope)
    if errcode == "M_UNKNOWN_TOKEN" or errcode == "M_MISSING_TOKEN":
        # A revoked token is an operator problem; retrying later lets them fix it.
        return RetryableError(f"{text} (check the access token)", retry_after=60.0)
    if errcode in _GONE:
        return TargetGone(f"{_GONE[errcode]} ({message})")
    if action == "join" and status == 404:
        # Synapse's answer to an invite into a room nobody is in any more: 404
        # M_UNKNOWN "no servers that are in the room". Read as M_UNKNOWN (retry) it
        # stopped the sync loop for good, which joined that invite again every batch.
        return TargetGone(f"room gone ({message})")
    if errcode in _REJECTED or (status is not None and status in (400, 413)):
        return Rejected(text)
    if status is None or status >= 500 or errcode == "M_UNKNOWN":
        return RetryableError(text, retry_after=DEFAULT_RETRY_AFTER)
    return PermanentError(text)


def from_nio(resp: Any, *, scope: str | None = None, action: str = "request") -> GatewayError:
    """An ``nio.ErrorResponse`` (returned, not raised) -> gateway error."""
    transport = getattr(resp, "transport_response", None)
    status = getattr(transport, "status", None)
    headers: Mapping[str, str] = getattr(transport, "headers", None) or {}
    return error_for(
        status if isinstance(status, int) else None,
        getattr(resp, "status_code", None),
        str(getattr(resp, "message", None) or resp),
        retry_after_ms=getattr(resp, "retry_after_ms", None),
        retry_after_header=headers.get("Retry-After"),
        scope=scope,
        action=action,
    )


def from_json(
    status: int,
    body: Any,
    headers: Mapping[str, str],
    *,
    scope: str | None = None,
    action: str = "request",
) -> GatewayError:
    """A raw error answer (status + JSON body) -> gateway error."""
    d = body if isinstance(body, Mapping) else {}
    errcode = d.get("errcode") if isinstance(d.get("errcode"), str) else None
    message = str(d["error"]) if isinstance(d.get("error"), str) else f"HTTP {status}"
    return error_for(
        status,
        errcode,
        message,
        retry_after_ms=d.get("retry_after_ms"),
        retry_after_header=headers.get("Retry-After"),
        scope=scope,
        action=action,
    )


def raise_transport(exc: BaseException, action: str) -> NoReturn:
    """A transport failure: the request may not have arrived; resending is safe."""
    raise NetworkError(f"matrix {action}: {type(exc).__name__}: {exc}") from exc
