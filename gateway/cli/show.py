"""Printing values that palm did not write (residents, chat titles, platform reasons).

Rich interprets ``[...]`` as markup in every string it prints: ``[/]`` in a chat title
crashed ``palm targets list`` and ``[link=…]`` in a message made a clickable link.
Every such value goes through ``cell`` (a ``Text``: never parsed as markup) or ``safe``
(escaped, for an f-string that also holds palm's own markup), after ``visible`` made
its control characters inert.
"""

from __future__ import annotations

import datetime as dt

from rich.markup import escape
from rich.text import Text

from gateway.safety.inert import visible

__all__ = ["cell", "safe", "when"]


def cell(value: object) -> Text:
    """A table cell or a line that is shown exactly as written, on one line."""
    return Text(visible("" if value is None else str(value), one_line=True))


def safe(value: object, *, one_line: bool = True) -> str:
    """``value`` for an f-string printed with markup on."""
    return escape(visible("" if value is None else str(value), one_line=one_line))


def when(ts: float | None) -> str:
    """A Unix time as local ``YYYY-MM-DD HH:MM:SS``; empty for none."""
    if not ts:
        return ""
    return dt.datetime.fromtimestamp(ts).strftime("%Y-%m-%d %H:%M:%S")
