"""Header values that palm compares or stores: visible ASCII only.

aiohttp decodes header bytes as UTF-8 with ``surrogateescape``, so a header with bytes
like ``\\xff`` arrives as a str holding lone surrogates, which ``str.encode()`` (hashing a
token, a Redis key) refuses with ``UnicodeEncodeError``. Tokens, webhook secrets and
idempotency keys are ASCII by construction, so anything else is simply not one.
"""

from __future__ import annotations

import re

__all__ = ["visible_ascii"]

_VISIBLE = re.compile(r"[\x21-\x7e]+")


def visible_ascii(value: str | None) -> bool:
    """True when ``value`` is a non-empty run of printable ASCII without spaces."""
    return value is not None and _VISIBLE.fullmatch(value) is not None
