"""JSON from the network: bounded nesting, UTF-8 only, never a RecursionError.

``json.loads`` recurses once per nesting level, so ``[[[[…`` a few thousand deep
raises ``RecursionError`` (a 500 in a handler). pydantic-core's parser (already a
dependency through pydantic) stops at a fixed depth with a ``ValueError`` instead,
and is the same parser ``model_validate_json`` uses.
"""

from __future__ import annotations

from typing import Any

import pydantic_core

from gateway.errors import InputError, UnsupportedMedia

__all__ = ["check_charset", "loads"]

_UTF8 = frozenset({"utf-8", "utf8"})


def check_charset(charset: str | None) -> None:
    """JSON is UTF-8 (RFC 8259 §8.1): any other declared charset is refused with 415."""
    if charset is not None and charset.strip().lower() not in _UTF8:
        shown = charset.encode("ascii", "backslashreplace").decode()[:40]
        raise UnsupportedMedia(f"charset {shown!r} is not supported: send UTF-8 JSON")


def loads(raw: bytes | str) -> Any:
    """Parse JSON; ``InputError`` for bad syntax, bad UTF-8, lone surrogates or deep nesting."""
    try:
        return pydantic_core.from_json(raw, allow_inf_nan=False)
    except ValueError as exc:
        raise InputError(f"the body is not valid JSON: {exc}") from None
