"""The linear inline parser gives what the old regex gave, and takes linear time.

``_regex_inline`` is the regular expression that ``gateway/markdown.py`` used before
(quadratic on ``*a *a *a …``), kept here as the reference: on short inputs it is fast,
and hypothesis checks both agree span for span.
"""

from __future__ import annotations

import re

from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.markdown import Line, Span, _inline, parse, to_plain

_REGEX = re.compile(
    r"\[(?P<ltext>[^\]\n]+)\]\((?P<href>https?://[^\s)]+)\)"
    r"|\*\*(?P<b1>(?!\s).+?(?<!\s))\*\*"
    r"|__(?P<b2>(?!\s).+?(?<!\s))__"
    r"|(?<![\w*])\*(?P<i1>(?![\s*]).*?(?<![\s*]))\*(?![\w*])"
    r"|(?<![\w_])_(?P<i2>(?![\s_]).*?(?<![\s_]))_(?![\w_])"
)


def _regex_inline(
    text: str, bold: bool = False, italic: bool = False, href: str | None = None
) -> Line:
    spans: list[Span] = []
    pos = 0
    for m in _REGEX.finditer(text):
        if m.start() > pos:
            spans.append(Span(text[pos : m.start()], bold, italic, href))
        if m.group("ltext") is not None and href is None:
            spans += _regex_inline(m.group("ltext"), bold, italic, m.group("href"))
        elif m.group("ltext") is not None:
            spans.append(Span(m.group(0), bold, italic, href))
        elif (inner := m.group("b1") or m.group("b2")) is not None:
            spans += _regex_inline(inner, True, italic, href)
        else:
            spans += _regex_inline(m.group("i1") or m.group("i2") or "", bold, True, href)
        pos = m.end()
    if pos < len(text):
        spans.append(Span(text[pos:], bold, italic, href))
    return tuple(s for s in spans if s.text)


def _merged(line: Line) -> list[tuple[str, bool, bool, str | None]]:
    """Adjacent spans of one style joined: where a span splits is not meaningful."""
    out: list[tuple[str, bool, bool, str | None]] = []
    for s in line:
        if out and out[-1][1:] == (s.bold, s.italic, s.href):
            out[-1] = (out[-1][0] + s.text, *out[-1][1:])
        else:
            out.append((s.text, s.bold, s.italic, s.href))
    return out


markdownish = st.text(alphabet="*_[]() ab1.:/\u00a0é楼", max_size=40) | st.lists(
    st.sampled_from(["**", "__", "*", "_", " ", "a", "[x](https://e.org/a)", "[", "](", ")",
                     "http://", "b_c", "*a*", "_a_", "\t"]),
    max_size=14,
).map("".join)  # fmt: skip


@settings(max_examples=3000, deadline=None)
@given(markdownish)
def test_same_spans_as_the_regex(text: str) -> None:
    assert _merged(_inline(text)) == _merged(_regex_inline(text))


def test_known_cases() -> None:
    assert _merged(_inline("**Water off** _5_ [map](https://e.org/?a=1&b=2)")) == [
        ("Water off", True, False, None),
        (" ", False, False, None),
        ("5", False, True, None),
        (" ", False, False, None),
        ("map", False, False, "https://e.org/?a=1&b=2"),
    ]
    assert _merged(_inline("pipe_size_5 costs 5*3*2")) == [
        ("pipe_size_5 costs 5*3*2", False, False, None)
    ]
    assert _merged(_inline("[**bold** link](http://x.org)")) == [
        ("bold", True, False, "http://x.org"),
        (" link", False, False, "http://x.org"),
    ]


def test_adversarial_inputs_parse_and_keep_their_text() -> None:
    # None of these holds a style (no opener has a valid closer): all text, kept whole.
    for text in ("*a " * 6667, "[" * 20000, "_a " * 6667, "**a " * 5000, "[a](http://x " * 1000):
        blocks = parse(text)
        assert to_plain(blocks) == text.strip()


def test_nesting_beyond_the_bound_stays_literal() -> None:
    text = "".join(f"**{c}" for c in "abcdefghij") + "x" + "**" * 10
    spans = _inline(text)
    assert "".join(s.text for s in spans).replace("*", "") == "abcdefghijx"
