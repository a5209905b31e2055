"""The one tag validator: config, CLI and API all go through ``validate_tag``.

A tag is one printable word of at most 64 characters, NFC-normalised (so ``é`` typed
precomposed or decomposed is the same tag), with no whitespace of any kind (NBSP and
ideographic space included) and none of the audience operators ``& | ! ( ) *``, so an
audience expression can never be ambiguous. Lone surrogates (bad UTF-8) and control
characters are not printable, so they are refused too.
"""

from __future__ import annotations

import unicodedata

from gateway.errors import InputError
from gateway.safety.inert import visible

__all__ = ["MAX_TAG", "OPERATORS", "tag_problem", "validate_tag"]

MAX_TAG = 64
OPERATORS = frozenset("&|!()*")


def tag_problem(tag: str) -> str | None:
    """Why ``tag`` (already NFC) is not a tag, or None when it is one."""
    if not tag:
        return "a tag cannot be empty"
    if len(tag) > MAX_TAG:
        return f"a tag is at most {MAX_TAG} characters"
    for ch in tag:
        if ch.isspace():
            return "a tag cannot contain whitespace"
        if ch in OPERATORS:
            return "a tag cannot contain & | ! ( ) *"
        if not ch.isprintable():
            return "a tag can hold only printable characters"
    return None


def validate_tag(raw: str) -> str:
    """The tag in NFC; ``InputError`` naming the problem otherwise."""
    tag = unicodedata.normalize("NFC", raw.strip())
    problem = tag_problem(tag)
    if problem:
        raise InputError(f"tag {visible(tag, one_line=True)!r}: {problem}")
    return tag
