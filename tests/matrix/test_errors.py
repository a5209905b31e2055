"""The one translation table, Matrix error -> gateway error."""

from __future__ import annotations

import aiohttp
import pytest

from adapters.matrix.errors import error_for, from_json, raise_transport
from gateway.errors import (
    NetworkError,
    PermanentError,
    RateLimited,
    Rejected,
    RetryableError,
    TargetGone,
)


def test_limit_exceeded_uses_body_then_header() -> None:
    err = error_for(429, "M_LIMIT_EXCEEDED", "slow down", retry_after_ms=4321, scope="k")
    assert isinstance(err, RateLimited)
    assert err.retry_after == pytest.approx(4.321)
    assert err.scope == "k"
    hdr = from_json(429, {"errcode": "M_LIMIT_EXCEEDED"}, {"Retry-After": "7"}, scope="k")
    assert isinstance(hdr, RateLimited)
    assert hdr.retry_after == 7.0


def test_forbidden_and_unknown_room_are_permanent() -> None:
    assert isinstance(error_for(403, "M_FORBIDDEN", "not in room"), TargetGone)
    assert isinstance(error_for(404, "M_NOT_FOUND", "no room"), TargetGone)
    assert isinstance(error_for(413, "M_TOO_LARGE", "big"), Rejected)
    assert isinstance(error_for(403, "M_WEIRD", "x"), PermanentError)
    # A join into a room nobody is in any more (Synapse: 404 M_UNKNOWN "no servers").
    assert isinstance(error_for(404, "M_UNKNOWN", "no servers", action="join"), TargetGone)
    assert isinstance(error_for(404, "M_UNKNOWN", "x", action="send"), RetryableError)


def test_server_errors_and_transport_are_retryable() -> None:
    assert isinstance(error_for(502, None, "bad gateway"), RetryableError)
    cause = aiohttp.ServerDisconnectedError()
    with pytest.raises(NetworkError) as info:
        raise_transport(cause, "send")
    assert info.value.__cause__ is cause
