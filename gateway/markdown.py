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
# Earliest match wins; a link's text may itself hold bold or italic.
_INLINE = re.compile(
    r"\[(?P<ltext>[^\]\n]+)\]\((?P<href>https?://[^\s)]+)\)"
    r"|\*\*(?P<b1>(?!\s).+?(?<!\s))\*\*"
    r"|__(?P<b2>(?!\s).+?(?<!\s))__"
    r"|(?<![\w*])\*(?P<i1>(?![\s*]).*?(?<![\s*]))\*(?![\w*])"
    r"|(?<![\w_])_(?P<i2>(?![\s_]).*?(?<![\s_]))_(?![\w_])"
)


def escape_html(text: str) -> str:
    return escape(text, quote=False)


def _inline(text: str, bold: bool = False, italic: bool = False, href: str | None = None) -> Line:
    spans: list[Span] = []
    pos = 0
    for m in _INLINE.finditer(text):
        if m.start() > pos:
            spans.append(Span(text[pos : m.start()], bold, italic, href))
        if m.group("ltext") is not None and href is None:
            spans += _inline(m.group("ltext"), bold, italic, m.group("href"))
        elif m.group("ltext") is not None:
            spans.append(Span(m.group(0), bold, italic, href))  # no links inside links
        elif (inner := m.group("b1") or m.group("b2")) is not None:
            spans += _inline(inner, True, italic, href)
        else:
            spans += _inline(m.group("i1") or m.group("i2") or "", bold, True, href)
        pos = m.end()
    if pos < len(text):
        spans.append(Span(text[pos:], bold, italic, href))
    return tuple(s for s in spans if s.text)


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
