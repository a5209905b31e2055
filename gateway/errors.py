"""The one exception tree of Palm Gateway.

Every error palm raises on purpose is a ``GatewayError``. The tree is split by
what the caller does next, not by where the error came from::

    GatewayError
    ├── ConfigError              bad config or rules file: stop, exit 2, name the key
    ├── InputError               a person's input is wrong: tell them (HTTP 4xx, exit 1)
    │   ├── AudienceError        an audience expression does not parse, or matches nothing
    │   ├── NotFound             the id names nothing (404)
    │   ├── Conflict             the state forbids it, e.g. a ticket claimed by someone else (409)
    │   ├── Unauthorized         no token or a bad one (401)
    │   ├── UnsupportedMedia     a body in a charset or type palm does not read (415)
    │   └── Forbidden            the token's role is too low (403)
    ├── RetryableError           nothing is wrong with the request: try it again later
    │   ├── RateLimited          the platform said 429; wait ``retry_after`` seconds
    │   ├── NetworkError         the request did not reach the platform (safe to resend)
    │   ├── AmbiguousSend        the request may have been applied (a timeout after sending)
    │   └── StoreUnavailable     Redis does not answer
    └── PermanentError           retrying cannot help: record it and give up
        ├── TargetGone           blocked, kicked, chat deleted: the target goes inactive
        ├── ChatMigrated         Telegram group became a supergroup: follow ``new_target``
        ├── NotPossible          e.g. recalling a Telegram message after 48 h
        └── Rejected             the platform refused this message (too long, bad markup, ...)

Adapters translate platform errors into this tree exactly once, at their boundary,
always with ``raise ... from exc`` so the original stays attached.

**Two languages.** ``message`` is English and stays so: the HTTP API's error body,
the CLI's one-line reason and the logs are a contract that programs and operators
read. Committee staff read the same errors in the web console and in their staff
rooms, in Chinese when that is their language, so a raise a staff member can reach
also gives ``zh=``, the same fact in natural Chinese (full-width punctuation, no
sentence-final 。, like the English; console and staff-room controls by their Chinese
names, never a CLI flag). Those two seams print ``exc.say(lang)``; everything else
keeps printing ``exc.message``. tests/core/test_error_words.py lists the modules
whose every error carries its Chinese.
"""

from __future__ import annotations

from typing import ClassVar

__all__ = [
    "AmbiguousSend",
    "AudienceError",
    "ChatMigrated",
    "ConfigError",
    "Conflict",
    "Forbidden",
    "GatewayError",
    "InputError",
    "NetworkError",
    "NotFound",
    "NotPossible",
    "PermanentError",
    "RateLimited",
    "Rejected",
    "RetryableError",
    "StoreUnavailable",
    "TargetGone",
    "Unauthorized",
    "UnsupportedMedia",
]


class GatewayError(Exception):
    """Root of every error palm raises on purpose."""

    #: machine-readable code used in the HTTP error body
    code: ClassVar[str] = "internal"
    #: HTTP status for the API
    http_status: ClassVar[int] = 500

    def __init__(self, message: str, *, zh: str | None = None) -> None:
        super().__init__(message)  # args (and so repr) carry the English text only
        self.message = message
        self.zh = zh

    def say(self, lang: str) -> str:
        """The text for a person reading ``lang``: the Chinese one for ``zh`` when the
        raise gave one, else the English ``message``."""
        return self.zh if lang == "zh" and self.zh is not None else self.message


class ConfigError(GatewayError):
    """The config (or a data file such as rules.yaml) is wrong. palm exits with code 2."""

    code = "config"
    http_status = 500

    def __init__(
        self,
        message: str,
        *,
        file: str | None = None,
        key: str | None = None,
        more: tuple[str, ...] = (),
    ) -> None:
        where = ": ".join(p for p in (file, key) if p)
        self.first = f"{where}: {message}" if where else message
        """The first problem, on one line; ``more`` holds the others, ``key: problem``."""
        super().__init__(self.first + "".join(f"\n  {m}" for m in more))
        self.file = file
        self.key = key
        self.more = more


class InputError(GatewayError):
    """A person's input is wrong; the message says how to fix it."""

    code = "bad_request"
    http_status = 400


class AudienceError(InputError):
    """An audience expression is malformed (``column`` is 1-based) or selects nobody.

    The column is added to both texts, so a raise gives each without it.
    """

    code = "bad_audience"

    def __init__(self, message: str, *, column: int | None = None, zh: str | None = None) -> None:
        if column is not None:
            message = f"{message} at column {column}"
            zh = f"{zh}（第 {column} 个字符处）" if zh is not None else None
        super().__init__(message, zh=zh)
        self.column = column


class NotFound(InputError):
    code = "not_found"
    http_status = 404


class Conflict(InputError):
    code = "conflict"
    http_status = 409


class Unauthorized(InputError):
    code = "unauthorized"
    http_status = 401


class Forbidden(InputError):
    code = "forbidden"
    http_status = 403


class UnsupportedMedia(InputError):
    code = "unsupported_media_type"
    http_status = 415


class RetryableError(GatewayError):
    """Nothing is wrong with the request itself; try again after ``retry_after`` seconds."""

    code = "unavailable"
    http_status = 503

    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class RateLimited(RetryableError):
    """The platform answered 429.

    ``scope`` is the ``RateRule.key`` that must pause (the adapter knows whether the
    platform meant the whole bot or one chat); ``None`` pauses only this one send.
    """

    code = "rate_limited"
    http_status = 429

    def __init__(self, message: str, *, retry_after: float, scope: str | None = None) -> None:
        super().__init__(message, retry_after=retry_after)
        self.scope = scope


class NetworkError(RetryableError):
    """The request did not reach the platform, so resending cannot duplicate it."""


class AmbiguousSend(RetryableError):
    """The request may or may not have been applied (e.g. a read timeout after sending).

    Resending may duplicate the message on platforms without idempotency keys.
    """


class StoreUnavailable(RetryableError):
    """Redis does not answer."""


class PermanentError(GatewayError):
    """Retrying cannot help: record the reason and move on."""

    code = "permanent"
    http_status = 422


class TargetGone(PermanentError):
    """The bot can no longer post into this chat (blocked, kicked, chat deleted).

    The target is marked inactive with ``reason``; no retry is spent on it.
    """

    code = "target_gone"

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class ChatMigrated(PermanentError):
    """The chat moved (a Telegram group upgraded to a supergroup). Resend to ``new_target``."""

    code = "chat_migrated"

    def __init__(self, message: str, *, new_target: str) -> None:
        super().__init__(message)
        self.new_target = new_target


class NotPossible(PermanentError):
    """The platform cannot do this at all, e.g. delete a Telegram message older than 48 h."""

    code = "not_possible"


class Rejected(PermanentError):
    """The platform refused this particular message."""

    code = "rejected"
