"""The one translation of python-telegram-bot errors into ``gateway.errors``.

========================================  =====================================
Telegram / PTB                            gateway.errors
========================================  =====================================
429 ``RetryAfter``                        ``RateLimited(retry_after, scope)``
400 ``ChatMigrated`` (migrate_to_chat_id) ``ChatMigrated(new_target)``
403 "bot was blocked by the user"         ``TargetGone("bot was blocked by the user")``
403 "bot was kicked ..." / other 403      ``TargetGone(<description>)``
400 "chat not found"                      ``TargetGone("chat not found")``
400 "not enough rights" / write forbidden ``TargetGone(<description>)``
400 "message can't be deleted" / edited   ``NotPossible(<description>)``
other 400                                 ``Rejected(<description>)``
401/404 ``InvalidToken``                  ``ConfigError`` (token never shown)
``TimedOut`` "Pool timeout"               ``NetworkError`` (PTB: not sent)
connect error / connect or write timeout  ``NetworkError`` (the request never arrived)
read timeout, reset or 5xx after sending  ``AmbiguousSend`` for sends (counted), else
                                          ``NetworkError``
409 ``Conflict``                          ``RetryableError`` (the poller handles it)
========================================  =====================================

A chat that was deleted answers "chat not found": the contract says a deleted chat
marks the target inactive, so it is ``TargetGone`` (a ``PermanentError``).
"""

from __future__ import annotations

import datetime as dt
import warnings

import httpx
import telegram.error as tg

from gateway import errors as gw
from gateway.metrics import RATE_LIMITED, TELEGRAM_AMBIGUOUS

TOKEN_REJECTED = "platforms.telegram: token rejected by Telegram"

# PTB's own RetryAfter.__init__ reads the deprecated int ``retry_after``, so every 429
# warns; palm reads the stored timedelta (retry_after_seconds), which PTB 23 keeps.
warnings.filterwarnings(
    "ignore",
    message=r"Deprecated since version v22\.2: .*`retry_after`",
    category=DeprecationWarning,
)

# httpx errors raised before the request body left this machine: a resend cannot
# duplicate anything.
_NOT_SENT = (
    httpx.ConnectError,
    httpx.ConnectTimeout,
    httpx.PoolTimeout,
    httpx.WriteTimeout,
    httpx.WriteError,
    httpx.UnsupportedProtocol,
    httpx.ProxyError,
)

_GONE_400 = (
    "chat not found",
    "not enough rights",
    "chat_write_forbidden",
    "have no rights to send",
    "peer_id_invalid",
    "user is deactivated",
)
_NOT_POSSIBLE_400 = (
    "message can't be deleted",
    "message to delete not found",
    "message to edit not found",
    "message can't be edited",
)


def _description(exc: tg.TelegramError) -> str:
    text = exc.message
    for prefix in ("Forbidden: ", "Bad Request: "):
        text = text.removeprefix(prefix)
    # PTB capitalises Telegram's description ("Chat not found"); keep Telegram's wording.
    return text[:1].lower() + text[1:]


def retry_after_seconds(exc: tg.RetryAfter) -> float:
    # The public ``retry_after`` warns (int now, timedelta in PTB 23); the stored value
    # has been a timedelta since 22.2.
    value = getattr(exc, "_retry_after", None)
    if isinstance(value, dt.timedelta):
        return value.total_seconds()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        public = exc.retry_after
    return public.total_seconds() if isinstance(public, dt.timedelta) else float(public)


def translate(exc: tg.TelegramError, *, is_send: bool, scope: str | None = None) -> gw.GatewayError:
    """Map one PTB error; the caller raises the result ``from exc``.

    ``is_send``: the request creates a message (a repeat may duplicate it).
    ``scope``: the ``RateRule`` key a 429 pauses (see ``limits.FloodTracker``).
    """
    if isinstance(exc, tg.RetryAfter):
        RATE_LIMITED.labels(platform="telegram").inc()
        secs = retry_after_seconds(exc)
        return gw.RateLimited(
            f"telegram: too many requests, retry after {secs:g} s", retry_after=secs, scope=scope
        )
    if isinstance(exc, tg.ChatMigrated):
        new = f"telegram:{exc.new_chat_id}"
        return gw.ChatMigrated(f"telegram: group upgraded to a supergroup ({new})", new_target=new)
    if isinstance(exc, tg.InvalidToken):
        return gw.ConfigError(TOKEN_REJECTED)
    if isinstance(exc, tg.Forbidden):
        reason = _description(exc)
        if "blocked" in reason:
            reason = "bot was blocked by the user"
        return gw.TargetGone(reason)
    if isinstance(exc, tg.BadRequest):
        return _bad_request(exc)
    if isinstance(exc, tg.Conflict):
        return gw.RetryableError(f"telegram: conflict: {_description(exc)}", retry_after=5.0)
    if isinstance(exc, tg.NetworkError):  # also TimedOut
        return _network(exc, is_send=is_send)
    return gw.Rejected(f"telegram: {_description(exc)}")


def _bad_request(exc: tg.BadRequest) -> gw.GatewayError:
    reason = _description(exc)
    low = reason.lower()
    if any(s in low for s in _GONE_400):
        return gw.TargetGone(reason)
    if any(s in low for s in _NOT_POSSIBLE_400):
        return gw.NotPossible(f"telegram: {reason}")
    return gw.Rejected(f"telegram: {reason}")


def _network(exc: tg.NetworkError, *, is_send: bool) -> gw.GatewayError:
    cause = exc.__cause__
    not_sent = isinstance(cause, _NOT_SENT) or "Pool timeout" in exc.message
    if not_sent or not is_send:
        return gw.NetworkError(f"telegram unreachable: {_short(exc)}", retry_after=1.0)
    TELEGRAM_AMBIGUOUS.inc()
    return gw.AmbiguousSend(f"telegram: no answer after sending ({_short(exc)})", retry_after=1.0)


def _short(exc: tg.NetworkError) -> str:
    cause = exc.__cause__
    return type(cause).__name__ if cause is not None else exc.message[:80]
