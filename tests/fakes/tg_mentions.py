"""Inline mentions in the fake Bot API, as the Bot API docs describe them.

HTML parse mode: ``<a href="tg://user?id=123">name</a>`` is "an inline mention of a
user"; the sent message carries it as a ``text_mention`` entity with the user, its
offset and length in UTF-16 code units of the visible text.
"""

from __future__ import annotations

import html.parser
import re
from typing import Any

_USER_LINK = re.compile(r"^tg://user\?id=(\d+)$")


class _Mentions(html.parser.HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.units = 0  # UTF-16 code units of visible text so far
        self.open: tuple[int, int] | None = None  # (user id, start offset)
        self.entities: list[dict[str, Any]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        href = dict(attrs).get("href") or ""
        if tag == "a" and (m := _USER_LINK.match(href)):
            self.open = (int(m.group(1)), self.units)

    def handle_endtag(self, tag: str) -> None:
        if tag == "a" and self.open is not None:
            user_id, start = self.open
            self.entities.append({
                "type": "text_mention", "offset": start, "length": self.units - start,
                "user": {"id": user_id, "is_bot": False, "first_name": f"User{user_id}"},
            })  # fmt: skip
            self.open = None

    def handle_data(self, data: str) -> None:
        self.units += len(data.encode("utf-16-le")) // 2


def text_mentions(raw: str, parse_mode: str | None) -> list[dict[str, Any]]:
    if (parse_mode or "").upper() != "HTML":
        return []
    p = _Mentions()
    p.feed(raw)
    p.close()
    return p.entities
