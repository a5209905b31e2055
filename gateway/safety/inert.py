"""Text from residents and platforms, made inert for a terminal or a log line.

A chat title, a display name or a message can hold ESC sequences (clear the screen,
retitle the window, fake a prompt), C1 controls such as U+009B (CSI on some
terminals), bidi overrides that reorder what is shown, and lone surrogates from bad
UTF-8. ``visible`` replaces each of them with a visible escape (``\\x1b``, ``\\u202e``),
so the operator sees that they were there and the terminal acts on none of them.
Rich markup (``[/]``, ``[link=…]``) is a separate concern: ``gateway.cli.show``.
"""

from __future__ import annotations

import re

__all__ = ["json_inert", "visible"]

# Zero-width and bidi format controls, and line/paragraph separators.
_FORMAT = "\u200b-\u200f\u2028\u2029\u202a-\u202e\u2060-\u2069\ufeff"
# C0 (but newline and tab), DEL and C1; the format controls; lone surrogates.
_UNSAFE = re.compile(f"[\x00-\x08\x0b-\x1f\x7f-\x9f{_FORMAT}\ud800-\udfff]")
_UNSAFE_ONE_LINE = re.compile(f"[\x00-\x1f\x7f-\x9f{_FORMAT}\ud800-\udfff]")
# What ``json.dumps(ensure_ascii=False)`` leaves raw although a terminal may act on it.
_JSON_RAW = re.compile(f"[\x7f-\x9f{_FORMAT}]")


def _escape(m: re.Match[str]) -> str:
    code = ord(m.group(0))
    if 0xDC80 <= code <= 0xDCFF:
        return f"\\x{code - 0xDC00:02x}"  # surrogateescape: the undecodable byte itself
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def visible(text: str, *, one_line: bool = False) -> str:
    """``text`` with every control character shown as an escape; newlines kept unless
    ``one_line`` (error messages, table cells)."""
    return (_UNSAFE_ONE_LINE if one_line else _UNSAFE).sub(_escape, text)


def json_inert(text: str) -> str:
    """JSON text (from ``json.dumps(ensure_ascii=False)``) with C1 and format controls
    written as ``\\uXXXX``: the same JSON, harmless in a terminal. (json escapes C0.)"""
    return _JSON_RAW.sub(lambda m: f"\\u{ord(m.group(0)):04x}", text)
