"""The small Markdown subset of announcements: bold, italic, links and lists.

``parse`` turns text into blocks of styled spans, with no markup left in the span
text, so every renderer escapes everything a person wrote. Adapters pick a renderer:
``to_html(..., block_tags=True)`` for Matrix ``formatted_body`` (``<p>``, ``<ul>``),
``block_tags=False`` for Telegram HTML, which has no block tags (newlines and "• "),
and ``to_plain`` for plain bodies and previews.

Syntax: ``**bold**`` or ``__bold__``, ``*italic*`` or ``_italic_``, ``[text](https://…)``;
lines starting ``- ``, ``* `` or ``• `` make a bulleted list, ``1. `` a numbered one;
a blank line separates paragraphs. Anything else is literal text.
"""

from __future__ import annotations

import re
from bisect import bisect_left
from dataclasses import dataclass
from html import escape

__all__ = ["Block", "Span", "escape_html", "parse", "to_html", "to_plain"]


@dataclass(frozen=True, slots=True)
class Span:
    text: str
    bold: bool = False
    italic: bool = False
    href: str | None = None


Line = tuple[Span, ...]


@dataclass(frozen=True, slots=True)
class Block:
    """A paragraph (``list_kind`` None: one entry per source line) or a list (one per item)."""

    lines: tuple[Line, ...]
    list_kind: str | None = None  # None | "bullet" | "number"


_BULLET = re.compile(r"^\s*(?:[-*•])\s+(.*)$")
_NUMBER = re.compile(r"^\s*\d{1,3}[.)]\s+(.*)$")
MAX_NESTING = 8
"""Styles nested deeper than this are kept as literal text: bold, italic and a link
are three levels, so only repeated delimiters are lost, and the work stays linear."""


def escape_html(text: str) -> str:
    return escape(text, quote=False)


def _word(c: str) -> bool:
    return c.isalnum() or c == "_"


# Valid closers, as the old regex's lookarounds defined them (see ``_Line``).
_CLOSE_STAR = re.compile(r"(?<=[^\s*])\*(?![\w*])")
_CLOSE_UNDER = re.compile(r"(?<=[^\s_])_(?![\w_])")
_CLOSE_STAR2 = re.compile(r"(?<=\S)\*(?=\*)")
_CLOSE_UNDER2 = re.compile(r"(?<=\S)_(?=_)")
_RBRACKET = re.compile(r"\]")
_RUN_STOP = re.compile(r"[\s)]")
_OPENER = re.compile(r"[\[*_]")


def _starts(pattern: re.Pattern[str], text: str) -> list[int]:
    return [m.start() for m in pattern.finditer(text)]


class _Line:
    """One line's inline syntax, scanned in linear time.

    The rules are those of the regular expression this replaced (earliest match wins;
    at one position a link, then ``**``, ``__``, ``*``, ``_``; the shortest inner text
    whose ends are not blank; a link's text may hold styles). The regex searched for a
    closer from every opener, which was quadratic on ``*a *a *a …``. Here the valid
    closers of each kind are found once per line (one C-speed ``finditer`` each), and
    an opener looks up the first one after it by bisection, correcting only at a
    nested span's last character, where the regex saw the span's end instead of the
    outer delimiter.
    """

    def __init__(self, text: str) -> None:
        self.text = text
        self.n = len(text)
        self.star = _starts(_CLOSE_STAR, text)
        self.under = _starts(_CLOSE_UNDER, text)
        self.star2 = _starts(_CLOSE_STAR2, text)
        self.under2 = _starts(_CLOSE_UNDER2, text)
        self.rbracket = _starts(_RBRACKET, text)
        self.run_stop = _starts(_RUN_STOP, text)

    def next(self, found: list[int], j: int) -> int:
        """The first position in ``found`` at or after ``j``; ``n`` when there is none."""
        at = bisect_left(found, j)
        return found[at] if at < len(found) else self.n

    # --- closers within [.., end) ---------------------------------------------
    def _single(self, ch: str, j: int, end: int) -> int | None:
        g = self.next(self.star if ch == "*" else self.under, j)
        if g < end - 1:
            return g
        k, t = end - 1, self.text
        # At the span's last character the regex's lookahead saw the span's end.
        if k >= j and t[k] == ch and not t[k - 1].isspace() and t[k - 1] != ch:
            return k
        return None

    def _double(self, ch: str, j: int, end: int) -> int | None:
        g = self.next(self.star2 if ch == "*" else self.under2, j)
        return g if g + 1 < end else None

    # --- one match at position i ------------------------------------------------
    def match(self, i: int, start: int, end: int) -> tuple[str, int, int, int, str] | None:
        """``(kind, inner_start, inner_end, match_end, href)`` for a match at ``i``."""
        t = self.text
        c = t[i]
        if c == "[":
            return self._link(i, end)
        if c not in "*_":
            return None
        nxt = t[i + 1] if i + 1 < end else ""
        if nxt == c and i + 2 < end and not t[i + 2].isspace():
            k = self._double(c, i + 3, end)
            if k is not None:
                return ("b", i + 2, k, k + 2, "")
        prev = t[i - 1] if i > start else ""
        if prev and (_word(prev) or prev == c):
            return None
        if not nxt or nxt.isspace() or nxt == c:
            return None
        k = self._single(c, i + 2, end)
        return ("i", i + 1, k, k + 1, "") if k is not None else None

    def _link(self, i: int, end: int) -> tuple[str, int, int, int, str] | None:
        t = self.text
        j = self.next(self.rbracket, i + 1)
        if j >= end or j < i + 2 or j + 1 >= end or t[j + 1] != "(":
            return None
        for scheme in ("https://", "http://"):
            if t.startswith(scheme, j + 2) and j + 2 + len(scheme) <= end:
                h = j + 2 + len(scheme)
                r = self.next(self.run_stop, h)
                if r > h and r < end and t[r] == ")":
                    return ("a", i + 1, j, r + 1, t[j + 2 : r])
                return None
        return None


def _inline(text: str) -> Line:
    line = _Line(text)
    return tuple(s for s in _spans(line, 0, len(text), False, False, None, 0) if s.text)


def _spans(
    line: _Line, start: int, end: int, bold: bool, italic: bool, href: str | None, depth: int
) -> list[Span]:
    """Spans of ``text[start:end]``, parsed as the regex parsed that substring alone."""
    text = line.text
    if depth >= MAX_NESTING:
        return [Span(text[start:end], bold, italic, href)]
    spans: list[Span] = []
    pos = i = start
    while i < end:
        found = _OPENER.search(text, i, end)
        if found is None:
            break
        i = found.start()
        m = line.match(i, start, end)
        if m is None:
            i += 1
            continue
        if i > pos:
            spans.append(Span(text[pos:i], bold, italic, href))
        kind, a, b, after, link = m
        if kind == "a" and href is None:
            spans += _spans(line, a, b, bold, italic, link, depth + 1)
        elif kind == "a":
            spans.append(Span(text[i:after], bold, italic, href))  # no links inside links
        else:
            spans += _spans(line, a, b, bold or kind == "b", italic or kind == "i", href, depth + 1)
        pos = i = after
    if pos < end:
        spans.append(Span(text[pos:end], bold, italic, href))
    return spans


def _kind(line: str) -> tuple[str | None, str]:
    if m := _BULLET.match(line):
        return "bullet", m.group(1)
    if m := _NUMBER.match(line):
        return "number", m.group(1)
    return None, line


def parse(text: str) -> tuple[Block, ...]:
    """Split into paragraphs and lists; parse inline styles. Never fails."""
    blocks: list[Block] = []
    current: list[Line] = []
    current_kind: str | None = None

    def flush() -> None:
        nonlocal current
        if current:
            blocks.append(Block(tuple(current), current_kind))
        current = []

    for raw in text.replace("\r\n", "\n").replace("\r", "\n").split("\n"):
        if not raw.strip():
            flush()
            continue
        kind, body = _kind(raw)
        if kind != current_kind:
            flush()
            current_kind = kind
        current.append(_inline(body.strip() if kind else raw.rstrip()))
    flush()
    return tuple(blocks)


def _span_html(s: Span) -> str:
    out = escape_html(s.text)
    if s.italic:
        out = f"<i>{out}</i>"
    if s.bold:
        out = f"<b>{out}</b>"
    if s.href:
        out = f'<a href="{escape(s.href, quote=True)}">{out}</a>'
    return out


def _line_html(line: Line) -> str:
    return "".join(_span_html(s) for s in line)


def to_html(blocks: tuple[Block, ...], *, block_tags: bool) -> str:
    parts: list[str] = []
    for block in blocks:
        lines = [_line_html(line) for line in block.lines]
        if block_tags and block.list_kind:
            tag = "ol" if block.list_kind == "number" else "ul"
            parts.append(f"<{tag}>" + "".join(f"<li>{li}</li>" for li in lines) + f"</{tag}>")
        elif block_tags:
            parts.append("<p>" + "<br>".join(lines) + "</p>")
        else:
            parts.append("\n".join(_bullets(lines, block.list_kind)))
    return "".join(parts) if block_tags else "\n\n".join(parts)


def _bullets(lines: list[str], kind: str | None) -> list[str]:
    if kind == "bullet":
        return [f"• {li}" for li in lines]
    if kind == "number":
        return [f"{n}. {li}" for n, li in enumerate(lines, 1)]
    return lines


def to_plain(blocks: tuple[Block, ...]) -> str:
    """Text without markup; links keep their address in brackets."""
    parts: list[str] = []
    for block in blocks:
        lines = [
            "".join(s.text + (f" ({s.href})" if s.href and s.href != s.text else "") for s in ln)
            for ln in block.lines
        ]
        parts.append("\n".join(_bullets(lines, block.list_kind)))
    return "\n\n".join(parts)
