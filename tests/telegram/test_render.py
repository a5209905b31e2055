"""Rendering to Telegram HTML: escaping, splitting over 4096, captions over 1024."""

from __future__ import annotations

import html
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from adapters.telegram.render import CAPTION_LIMIT, TEXT_LIMIT, render, visible_len
from tests.fakes import tg_rules


def visible(part: str) -> str:
    return html.unescape(re.sub(r"<[^>]*>", "", part))


def test_user_text_is_escaped() -> None:
    [part] = render("**Tank** <script> & _now_", title="Notice <1>")
    assert part == "<b>Notice &lt;1&gt;</b>\n\n<b>Tank</b> &lt;script&gt; &amp; <i>now</i>"


def test_plain_text_is_fully_escaped_and_keeps_markdown_literal() -> None:
    [part] = render("**not bold** <b>x</b> & y", plain=True)
    assert part == "**not bold** &lt;b&gt;x&lt;/b&gt; &amp; y"


def test_long_text_splits_on_paragraphs_within_limit() -> None:
    paras = [f"paragraph {i} " + "x" * 900 for i in range(12)]
    parts = render("\n\n".join(paras))
    assert len(parts) > 1
    assert all(visible_len(visible(p)) <= TEXT_LIMIT for p in parts)
    # nothing lost, nothing repeated, and no paragraph was cut
    assert "\n\n".join(visible(p) for p in parts) == "\n\n".join(paras)


def test_one_huge_bold_line_splits_without_breaking_tags() -> None:
    parts = render("**" + "é" * 9000 + "**")
    assert len(parts) == 3
    for p in parts:
        assert p.startswith("<b>")
        assert p.endswith("</b>")
        assert visible_len(visible(p)) <= TEXT_LIMIT
    assert "".join(visible(p) for p in parts) == "é" * 9000


def test_emoji_counts_as_two_utf16_units() -> None:
    parts = render("😀" * 3000)
    assert all(visible_len(visible(p)) <= TEXT_LIMIT for p in parts)
    assert len(parts) == 2


def test_caption_first_then_follow_ups() -> None:
    text = "\n".join(f"line {i} " + "y" * 100 for i in range(30))
    parts = render(text, first_limit=CAPTION_LIMIT)
    assert visible_len(visible(parts[0])) <= CAPTION_LIMIT
    assert all(visible_len(visible(p)) <= TEXT_LIMIT for p in parts[1:])
    assert "\n".join(visible(p) for p in parts) == text


def test_empty_text_gives_no_parts() -> None:
    assert render("") == []
    assert render("  \n\n ") == []


# --- every part passes the strict fake's HTML parser and limits (tests.fakes.tg_rules) ---

_ALPHABET = st.sampled_from(
    [
        *"ab z*_[]()<>&;#/\"'\n-•1.",
        "https://x.org/?a=1&b=2",
        "&amp;",
        "**",
        "__",
        "电梯",
        "😀",
        "👨‍👩‍👧",
        "\u2063",
        "é",
        "𝄞",
    ]
)


@settings(max_examples=300, deadline=None)
@given(
    text=st.lists(_ALPHABET, max_size=60).map("".join),
    title=st.none() | st.lists(_ALPHABET, max_size=6).map("".join),
    plain=st.booleans(),
    caption=st.booleans(),
    repeat=st.sampled_from([1, 40, 300]),
)
def test_every_part_is_valid_telegram_html_within_limits(
    text: str, title: str | None, plain: bool, caption: bool, repeat: int
) -> None:
    first = CAPTION_LIMIT if caption else TEXT_LIMIT
    long_title = (title or "") * repeat or None  # palm caps titles at 200; render need not
    parts = render(text * repeat, plain=plain, title=long_title, first_limit=first)
    for n, part in enumerate(parts):
        shown = tg_rules.parse_html(part)  # raises the server's 400 on bad markup
        assert tg_rules.utf16_len(shown) <= (first if n == 0 else TEXT_LIMIT)
        assert shown.strip(), "an empty part is refused by Telegram"
    if plain:  # nothing lost, nothing added (splits drop only line breaks)
        assert _no_space("".join(tg_rules.parse_html(p) for p in parts)) == _no_space(
            (long_title or "") + text * repeat
        )


def _no_space(s: str) -> str:
    return "".join(ch for ch in s if not ch.isspace())


def test_long_cjk_and_emoji_lines_split_in_utf16_units() -> None:
    line = "电梯维修😀" * 1000  # 6 UTF-16 units per repeat, one line of 6,000
    parts = render(line, plain=True)
    sizes = [tg_rules.utf16_len(tg_rules.parse_html(p)) for p in parts]
    assert sizes == [4096, 6000 - 4096]
    assert "".join(tg_rules.parse_html(p) for p in parts) == line


@pytest.mark.parametrize("plain", [True, False])
def test_a_line_cut_for_the_caption_continues_without_a_break(plain: bool) -> None:
    line = "电梯" * 1500  # one line of 3,000: 1,024 in the caption, the rest in one message
    parts = render(line, first_limit=CAPTION_LIMIT, plain=plain)
    shown = [tg_rules.parse_html(p) for p in parts]
    assert [len(s) for s in shown] == [1024, 1976]
    assert "".join(shown) == line


def test_a_title_longer_than_a_caption_is_cut_not_refused() -> None:
    parts = render("body", title="标题" * 600, first_limit=CAPTION_LIMIT)
    shown = [tg_rules.parse_html(p) for p in parts]
    assert [len(s) for s in shown] == [1024, 176 + 2 + 4]
    assert shown[1].endswith("\n\nbody")
    assert render("body", title="  ") == ["body"]  # a blank title is no part of its own
