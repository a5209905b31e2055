"""The one tag validator: config, CLI and API all go through ``validate_tag``.

A tag is one printable word of at most 64 characters, NFC-normalised (so ``é`` typed
precomposed or decomposed is the same tag), with no whitespace of any kind (NBSP and
ideographic space included) and none of the audience operators ``& | ! ( ) *``, so an
audience expression can never be ambiguous. Lone surrogates (bad UTF-8) and control
characters are not printable, so they are refused too.
"""

from __future__ import annotations

import unicodedata
from typing import NamedTuple

from gateway.errors import InputError
from gateway.safety.inert import visible

__all__ = ["MAX_TAG", "OPERATORS", "Problem", "tag_problem", "validate_tag"]

MAX_TAG = 64
OPERATORS = frozenset("&|!()*")


class Problem(NamedTuple):
    """Why a word is not a tag, in English and in Chinese (staff type tags too)."""

    en: str
    zh: str


def tag_problem(tag: str) -> Problem | None:
    """Why ``tag`` (already NFC) is not a tag, or None when it is one."""
    if not tag:
        return Problem("a tag cannot be empty", "标签不能为空")
    if len(tag) > MAX_TAG:
        return Problem(f"a tag is at most {MAX_TAG} characters", f"标签最多 {MAX_TAG} 个字符")
    for ch in tag:
        if ch.isspace():
            return Problem("a tag cannot contain whitespace", "标签里不能有空格")
        if ch in OPERATORS:
            return Problem("a tag cannot contain & | ! ( ) *", "标签里不能有 & | ! ( ) *")
        if not ch.isprintable():
            return Problem(
                "a tag can hold only printable characters", "标签里不能有看不见的控制字符"
            )
    return None


def validate_tag(raw: str) -> str:
    """The tag in NFC; ``InputError`` naming the problem otherwise."""
    tag = unicodedata.normalize("NFC", raw.strip())
    problem = tag_problem(tag)
    if problem:
        shown = visible(tag, one_line=True)
        raise InputError(f"tag {shown!r}: {problem.en}", zh=f"标签「{shown}」：{problem.zh}")
    return tag
