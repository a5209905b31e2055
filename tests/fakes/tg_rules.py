"""The Bot API's documented input rules, as strict as the fake Bot API needs them.

Written from the Bot API documentation (core.telegram.org/bots/api):

* "Formatting options", HTML style: only the listed tags (``b strong i em u ins s strike
  del span tg-spoiler a code pre blockquote tg-emoji``); ``span`` only with
  ``class="tg-spoiler"``; ``<a>`` with an ``href``; "All ``<``, ``>`` and ``&`` symbols
  that are not a part of a tag or an HTML entity must be replaced with the corresponding
  HTML entities"; "All numerical HTML entities are supported"; "The API currently
  supports only the following named HTML entities: ``&lt;``, ``&gt;``, ``&amp;`` and
  ``&quot;``".
* sendMessage ``text``: "1-4096 characters after entities parsing"; ``caption``: "0-1024
  characters after entities parsing". Telegram counts characters in UTF-16 code units
  (message entity offsets and lengths are UTF-16, an emoji outside the BMP is 2).
* sendPhoto: "The photo must be at most 10 MB in size"; sendDocument: "Bots can
  currently send files of any type of up to 50 MB in size".
* ``reply_parameters.allow_sending_without_reply`` (and the older top-level field):
  "Pass True if the message should be sent even if the specified message to be replied
  to is not found".

Error descriptions follow the real server's wording where it is known ("Bad Request:
can't parse entities: Unsupported start tag "p" at byte offset 12", "Unmatched end tag
at byte offset 490, expected "</i>", found "</a>"", "message to be replied not found",
413 "Request Entity Too Large"); offsets are UTF-8 byte offsets, as the server's. One
deliberate difference: the real parser keeps an ``&`` that starts no entity as a literal
``&``; this fake follows the documented "must be replaced" and refuses it, so a palm
that forgot to escape fails here instead of getting lucky in production.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

__all__ = [
    "CAPTION_LIMIT",
    "DOCUMENT_MAX_BYTES",
    "PHOTO_MAX_BYTES",
    "TEXT_LIMIT",
    "RuleError",
    "check_caption",
    "check_media_size",
    "check_reply",
    "check_text",
    "parse_html",
    "utf16_len",
]

TEXT_LIMIT = 4096
CAPTION_LIMIT = 1024
MB = 1024 * 1024
PHOTO_MAX_BYTES = 10 * MB
DOCUMENT_MAX_BYTES = 50 * MB

SUPPORTED_TAGS = frozenset(
    {
        "a", "b", "strong", "i", "em", "u", "ins", "s", "strike", "del", "span",
        "tg-spoiler", "tg-emoji", "code", "pre", "blockquote",
    }
)  # fmt: skip
NAMED_ENTITIES = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}
_ENTITY = re.compile(
    r"&(?:#(?P<dec>[0-9]{1,8})|#[xX](?P<hex>[0-9a-fA-F]{1,8})|(?P<name>[a-zA-Z]+));"
)
_TAG_NAME = re.compile(r"[a-zA-Z0-9-]*")
_ATTR_NAME = re.compile(r"[a-zA-Z0-9_-]*")
_PLAIN = re.compile(r"[^&<>]*")
_UNQUOTED = re.compile(r"[^\s>]*")


class RuleError(Exception):
    """A request the real Bot API refuses: ``code`` and ``description`` of its answer."""

    def __init__(self, code: int, description: str) -> None:
        super().__init__(description)
        self.code = code
        self.description = description


def utf16_len(text: str) -> int:
    """Length as Telegram counts it: UTF-16 code units."""
    return len(text.encode("utf-16-le")) // 2


# --- HTML parse mode -----------------------------------------------------------------


@dataclass
class _Open:
    tag: str
    offset: int
    attrs: dict[str, str]


class _HtmlParser:
    """A single pass over the markup, like the server's own parser (no html.parser
    leniency: ``<b`` without ``>``, ``</b x>``, ``&copy;`` and a bare ``&`` all fail)."""

    def __init__(self, raw: str) -> None:
        self.raw = raw
        self.pos = 0
        self.out: list[str] = []
        self.stack: list[_Open] = []

    def fail(self, what: str) -> RuleError:
        return RuleError(400, f"Bad Request: can't parse entities: {what}")

    def offset(self, pos: int | None = None) -> int:
        """UTF-8 byte offset of ``pos`` (the server reports byte offsets)."""
        return len(self.raw[: self.pos if pos is None else pos].encode("utf-8", "surrogatepass"))

    def run(self) -> str:
        raw = self.raw
        while self.pos < len(raw):
            ch = raw[self.pos]
            if ch == "&":
                self.entity()
            elif ch == "<":
                self.tag()
            elif ch == ">":
                raise self.fail(f"Character '>' at byte offset {self.offset()} must be escaped")
            else:
                self.out.append(self.read(_PLAIN))
        if self.stack:
            raise self.fail(
                f'Can\'t find end tag corresponding to start tag "{self.stack[-1].tag}"'
            )
        return "".join(self.out)

    def entity(self) -> None:
        m = _ENTITY.match(self.raw, self.pos)
        if m is None or (m.group("name") is not None and m.group("name") not in NAMED_ENTITIES):
            raise self.fail(
                f"Character '&' at byte offset {self.offset()} is not a part of an entity;"
                " use &amp;"
            )
        if m.group("name") is not None:
            self.out.append(NAMED_ENTITIES[m.group("name")])
        else:
            code = int(m.group("dec"), 10) if m.group("dec") else int(m.group("hex"), 16)
            if not 0 < code <= 0x10FFFF or 0xD800 <= code <= 0xDFFF:
                raise self.fail(f"Invalid character entity at byte offset {self.offset()}")
            self.out.append(chr(code))
        self.pos = m.end()

    def tag(self) -> None:
        start = self.pos
        self.pos += 1
        if self.raw.startswith("/", self.pos):
            self.end_tag(start)
        else:
            self.start_tag(start)

    def start_tag(self, start: int) -> None:
        name = self.read(_TAG_NAME).lower()
        if name not in SUPPORTED_TAGS:
            raise self.fail(f'Unsupported start tag "{name}" at byte offset {self.offset(start)}')
        attrs = self.attributes(name, start)
        if name == "a" and not attrs.get("href"):
            raise self.fail(
                f'Tag "a" must have attribute "href" at byte offset {self.offset(start)}'
            )
        if name == "span" and attrs.get("class") != "tg-spoiler":
            raise self.fail(
                f'Tag "span" must have class "tg-spoiler" at byte offset {self.offset(start)}'
            )
        self.stack.append(_Open(name, start, attrs))

    def attributes(self, tag: str, start: int) -> dict[str, str]:
        attrs: dict[str, str] = {}
        raw = self.raw
        while True:
            self.skip_spaces()
            if self.pos >= len(raw):
                raise self.fail(f"Unclosed start tag at byte offset {self.offset(start)}")
            if raw[self.pos] == ">":
                self.pos += 1
                return attrs
            name = self.read(_ATTR_NAME).lower()
            if not name:
                raise self.fail(
                    f'Empty attribute name in the tag "{tag}" at byte offset {self.offset(start)}'
                )
            self.skip_spaces()
            if not raw.startswith("=", self.pos):
                if raw.startswith(">", self.pos) or raw[self.pos : self.pos + 1].isspace():
                    attrs[name] = ""  # a bare attribute, e.g. <blockquote expandable>
                    continue
                raise self.fail(
                    f'Expected equal sign in declaration of an attribute of the tag "{tag}" at'
                    f" byte offset {self.offset(start)}"
                )
            self.pos += 1
            self.skip_spaces()
            attrs[name] = self.attribute_value(tag, start)

    def attribute_value(self, tag: str, start: int) -> str:
        raw = self.raw
        quote = raw[self.pos : self.pos + 1]
        if quote in ("'", '"'):
            end = raw.find(quote, self.pos + 1)
            if end < 0:
                raise self.fail(f"Unclosed start tag at byte offset {self.offset(start)}")
            value = raw[self.pos + 1 : end]
            self.pos = end + 1
        else:
            value = self.read(_UNQUOTED)
        return _unescape_attr(value, lambda what: self.fail(f'{what} in the tag "{tag}"'))

    def end_tag(self, start: int) -> None:
        self.pos += 1  # the "/"
        name = self.read(_TAG_NAME).lower()
        if not self.stack:
            raise self.fail(f"Unexpected end tag at byte offset {self.offset(start)}")
        top = self.stack[-1].tag
        if name != top:
            raise self.fail(
                f'Unmatched end tag at byte offset {self.offset(start)}, expected "</{top}>",'
                f' found "</{name}>"'
            )
        self.skip_spaces()
        if not self.raw.startswith(">", self.pos):
            raise self.fail(f"Unclosed end tag at byte offset {self.offset(start)}")
        self.pos += 1
        self.stack.pop()

    def read(self, pattern: re.Pattern[str]) -> str:
        m = pattern.match(self.raw, self.pos)
        assert m is not None  # the patterns match the empty string
        self.pos = m.end()
        return m.group(0)

    def skip_spaces(self) -> None:
        while self.pos < len(self.raw) and self.raw[self.pos] in " \t\r\n":
            self.pos += 1


def _unescape_attr(value: str, fail: Callable[[str], RuleError]) -> str:
    out: list[str] = []
    pos = 0
    for m in re.finditer("&", value):
        if m.start() < pos:
            continue
        out.append(value[pos : m.start()])
        e = _ENTITY.match(value, m.start())
        if e is None or (e.group("name") is not None and e.group("name") not in NAMED_ENTITIES):
            raise fail("Unescaped '&' in an attribute value")
        if e.group("name") is not None:
            out.append(NAMED_ENTITIES[e.group("name")])
        else:
            out.append(chr(int(e.group("dec"), 10) if e.group("dec") else int(e.group("hex"), 16)))
        pos = e.end()
    out.append(value[pos:])
    return "".join(out)


def parse_html(raw: str) -> str:
    """The visible text of ``raw`` in HTML parse mode, or ``RuleError`` as the server."""
    return _HtmlParser(raw).run()


def visible(raw: str, parse_mode: str | None) -> str:
    """What the user sees of ``raw`` sent with ``parse_mode`` (only HTML is parsed)."""
    if (parse_mode or "").upper() == "HTML":
        return parse_html(raw)
    return raw


# --- lengths, sizes, replies --------------------------------------------------------------


def check_text(raw: str, parse_mode: str | None) -> str:
    """sendMessage / editMessageText ``text``: 1-4096 UTF-16 units after parsing."""
    if not raw:
        raise RuleError(400, "Bad Request: message text is empty")
    text = visible(raw, parse_mode)
    if not text.strip():
        raise RuleError(400, "Bad Request: message text is empty")
    if utf16_len(text) > TEXT_LIMIT:
        raise RuleError(400, "Bad Request: message is too long")
    return text


def check_caption(raw: str, parse_mode: str | None) -> str | None:
    """A media ``caption``: 0-1024 UTF-16 units after parsing; None when empty."""
    if not raw:
        return None
    caption = visible(raw, parse_mode)
    if utf16_len(caption) > CAPTION_LIMIT:
        raise RuleError(400, "Bad Request: message caption is too long")
    return caption


def check_media_size(method: str, size: int) -> None:
    """10 MB for an uploaded photo, 50 MB for any uploaded file."""
    if size > DOCUMENT_MAX_BYTES:
        # The real server's front end refuses the upload before the Bot API sees it.
        raise RuleError(413, "Request Entity Too Large")
    if method == "sendPhoto" and size > PHOTO_MAX_BYTES:
        raise RuleError(400, "Bad Request: PHOTO_SAVE_FILE_INVALID")


def _truthy(value: Any) -> bool:
    return value is True or str(value).lower() == "true"


def allow_without_reply(p: dict[str, Any]) -> bool:
    """``reply_parameters.allow_sending_without_reply``, else the legacy top-level field."""
    rp = p.get("reply_parameters")
    if isinstance(rp, dict) and "allow_sending_without_reply" in rp:
        return _truthy(rp["allow_sending_without_reply"])
    return _truthy(p.get("allow_sending_without_reply"))


def check_reply(p: dict[str, Any], reply_to: int | None, exists: bool) -> int | None:
    """The message id the new message replies to (None: no reply), or the server's 400.

    A reply to a missing message is refused unless allowed; allowed, it is sent as a
    plain message (no ``reply_to_message``).
    """
    if reply_to is None or exists:
        return reply_to
    if allow_without_reply(p):
        return None
    raise RuleError(400, "Bad Request: message to be replied not found")
