"""Core Markdown (or plain staff text) -> Telegram HTML parts within Telegram's limits.

Telegram counts a message's length after parsing the markup (the visible text), in
UTF-16 code units: 4096 for a text, 1024 for a caption. ``render`` splits on paragraph
and line boundaries; ``gateway.markdown.to_html(block_tags=False)`` closes every tag on
the line that opened it, so a split between lines never breaks a tag. A single line
longer than a whole message is cut between spans, and a span between characters
(each piece is escaped on its own, so no entity is ever cut in half).
"""

from __future__ import annotations

import html as htmllib
import re
from collections.abc import Iterator
from dataclasses import dataclass

from gateway.markdown import Block, Span, escape_html, parse, to_html
from gateway.models import OutboundMessage

TEXT_LIMIT = 4096
CAPTION_LIMIT = 1024


def visible_len(text: str) -> int:
    """Length as Telegram counts it (UTF-16 code units)."""
    return len(text.encode("utf-16-le")) // 2


@dataclass(frozen=True, slots=True)
class _Line:
    html: str
    size: int  # visible length
    para_start: bool  # first line of a paragraph: joined with a blank line


def _cut(text: str, size: int) -> Iterator[str]:
    """Pieces of at most ``size`` UTF-16 units, never splitting a surrogate pair."""
    piece: list[str] = []
    used = 0
    for ch in text:
        w = visible_len(ch)
        if used + w > size and piece:
            yield "".join(piece)
            piece, used = [], 0
        piece.append(ch)
        used += w
    if piece:
        yield "".join(piece)


def _split_line(spans: tuple[Span, ...], limit: int) -> list[tuple[str, int]]:
    """One overlong line -> several (html, size) pieces of at most ``limit``."""
    out: list[tuple[str, int]] = []
    html, size = "", 0
    for span in spans:
        for text in _cut(span.text, limit):
            piece = Span(text, span.bold, span.italic, span.href)
            n = visible_len(text)
            if size + n > limit and html:
                out.append((html, size))
                html, size = "", 0
            html += _one_span(piece)
            size += n
    if html:
        out.append((html, size))
    return out


def _one_span(s: Span) -> str:
    """One span rendered exactly as ``gateway.markdown`` renders it inside a line."""
    return to_html((Block(((s,),)),), block_tags=False)


def _lines(text: str, *, plain: bool, title: str | None, limit: int) -> list[_Line]:
    lines: list[_Line] = []
    if title:
        lines.append(_Line(f"<b>{escape_html(title)}</b>", visible_len(title), True))
    if plain:
        para = True
        for raw in text.replace("\r\n", "\n").split("\n"):
            for piece in _cut(raw, limit) if raw else [""]:
                lines.append(_Line(escape_html(piece), visible_len(piece), para))
                para = False
        return lines
    for block in parse(text):
        first = True
        rendered = to_html((block,), block_tags=False).split("\n")
        for spans, html in zip(block.lines, rendered, strict=True):
            size = visible_len(_visible(html))
            if size <= limit:
                lines.append(_Line(html, size, first))
            else:
                prefix = html[: len(html) - len(_line_html(spans))]
                for n, (piece, psize) in enumerate(_split_line(spans, limit - len(prefix))):
                    head = prefix if n == 0 else ""
                    lines.append(_Line(head + piece, psize + len(head), first and n == 0))
            first = False
    return lines


def _line_html(spans: tuple[Span, ...]) -> str:
    return "".join(_one_span(s) for s in spans)


def _visible(html: str) -> str:
    """The text Telegram shows for HTML made by gateway.markdown (tags out, entities in)."""
    return htmllib.unescape(re.sub(r"<[^>]*>", "", html))


def render(
    text: str,
    *,
    plain: bool = False,
    title: str | None = None,
    first_limit: int = TEXT_LIMIT,
    limit: int = TEXT_LIMIT,
) -> list[str]:
    """HTML parts: the first at most ``first_limit`` visible units, the rest ``limit``.

    ``first_limit=CAPTION_LIMIT`` renders a media caption plus follow-up messages.
    An empty text gives no parts.
    """
    parts: list[str] = []
    current: list[str] = []
    used = 0
    cap = first_limit
    for line in _lines(text, plain=plain, title=title, limit=min(first_limit, limit)):
        sep = ("\n\n" if line.para_start else "\n") if current else ""
        if current and used + len(sep) + line.size > cap:
            parts.append("".join(current))
            current, used, cap, sep = [], 0, limit, ""
        current.append(sep + line.html)
        used += len(sep) + line.size
    if current and used > 0:
        parts.append("".join(current))
    return [p for p in parts if p.strip()]


def mentions_html(msg: OutboundMessage) -> str:
    """``msg.mentions`` as HTML inline mentions (``tg://user?id=``): Telegram turns
    each into a ``text_mention`` entity, which notifies users without a username."""
    return ", ".join(
        f'<a href="tg://user?id={int(m.user_id)}">{escape_html(m.name)}</a>' for m in msg.mentions
    )
