"""Audience expressions, tags and terminal text under hostile input."""

from __future__ import annotations

import unicodedata
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway import audience
from gateway.config import TargetSeed
from gateway.config_load import load_config
from gateway.errors import AudienceError, ConfigError, InputError
from gateway.safety.argv import undecodable
from gateway.safety.inert import visible
from gateway.tags import validate_tag


@pytest.mark.parametrize(
    ("text", "column"),
    [
        ("!" * 1000 + "a", 33),
        ("(" * 400 + "a" + ")" * 400, 33),
        ("(" * 400, 33),
        ("a & " + "!(" * 300 + "b", 37),
    ],
)
def test_deep_audience_is_a_clear_error_at_a_column(text: str, column: int) -> None:
    with pytest.raises(AudienceError) as caught:
        audience.parse(text)
    assert caught.value.column == column
    assert "nests deeper than 32 levels" in caught.value.message


def test_nesting_up_to_the_bound_still_parses_and_round_trips() -> None:
    for text in ("!" * 32 + "a", "(" * 32 + "a" + ")" * 32, "!(" * 16 + "a" + ")" * 16):
        expr = audience.parse(text)
        assert audience.parse(audience.to_text(expr)) == expr


@pytest.mark.parametrize(
    ("text", "column"),
    [
        ("a & \ud800", 5),  # a lone surrogate (bad UTF-8 from argv or JSON)
        ("a | b\x1bc", 5),  # ESC
        ("x" * 65, 1),
        ("ok & a\u200bb", 6),  # zero-width space: not printable
    ],
)
def test_tags_in_expressions_are_validated(text: str, column: int) -> None:
    with pytest.raises(AudienceError) as caught:
        audience.parse(text)
    assert caught.value.column == column


def test_tags_in_expressions_are_nfc() -> None:
    decomposed = unicodedata.normalize("NFD", "café")
    assert audience.parse(decomposed) == audience.Tag("café")


@pytest.mark.parametrize(
    "tag",
    ["", "a b", "a\u00a0b", "a\u3000b", "a\tb", "a\u2028b", "a&b", "(x)", "x" * 65,
     "\ud800", "a\x1b", "a\u200bb", "a\u202eb"],
)  # fmt: skip
def test_one_tag_validator_refuses(tag: str) -> None:
    with pytest.raises(InputError) as caught:
        validate_tag(tag)
    assert "\x1b" not in caught.value.message
    assert "\ud800" not in caught.value.message
    with pytest.raises(ValueError, match="tag"):
        TargetSeed(id="telegram:-1", tags=[tag])


def test_one_tag_validator_accepts_and_normalises() -> None:
    assert validate_tag("building:5") == "building:5"
    assert validate_tag("  楼栋:5号 ") == "楼栋:5号"
    assert validate_tag(unicodedata.normalize("NFD", "résidence")) == "résidence"
    assert validate_tag("x" * 64) == "x" * 64
    seed = TargetSeed(id="telegram:-1", tags=[unicodedata.normalize("NFD", "é")])
    assert seed.tags == ["é"]


def test_visible_makes_controls_inert() -> None:
    assert visible("a\x1b[2Jb") == "a\\x1b[2Jb"
    assert visible("\x9b31m") == "\\x9b31m"
    assert visible("x\u202ey") == "x\\u202ey"
    assert visible("bad \udcff byte") == "bad \\xff byte"
    assert visible("two\nlines\tok") == "two\nlines\tok"
    assert visible("two\nlines", one_line=True) == "two\\x0alines"
    assert visible("楼 [b]") == "楼 [b]"


def test_undecodable_argv_is_named() -> None:
    assert undecodable(["announce", "ok"]) is None
    message = undecodable(["announce", "x", "--to", "b\udcff"])
    assert message == "argument 4 is not valid UTF-8: b\\xff"


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b'targets:\n  - {id: "telegram:-1", title: "bad \\ud800 title"}\n',
         "targets[0].title: a lone surrogate"),
        (b'targets:\n  - {id: "telegram:-1\\udcff"}\n', "targets[0].id: a lone surrogate"),
        (b"locale: zh\n# \xff\xfe\n", "not valid UTF-8 (byte 13)"),
    ],
)  # fmt: skip
def test_config_with_surrogates_or_bad_utf8_is_a_config_error(
    tmp_path: Path, content: bytes, message: str
) -> None:
    path = tmp_path / "palm.yaml"
    path.write_bytes(content)
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert message in str(caught.value)


@settings(max_examples=500, deadline=None)
@given(
    st.text(max_size=300)
    | st.lists(st.sampled_from(["!", "(", ")", "&", "|", "*", " ", "a", "b:5", "\x1b", "\ud800"]),
               max_size=400).map("".join)
)  # fmt: skip
def test_any_audience_text_parses_or_is_an_audience_error(text: str) -> None:
    try:
        expr = audience.parse(text)
    except AudienceError as exc:
        column = exc.column
    else:
        column = 0
    if column != 0:
        assert column is None or 1 <= column <= len(text) + 1
        return
    assert audience.parse(audience.to_text(expr)) == expr
    for tag in audience.tags_of(expr):
        assert validate_tag(tag) == tag


@settings(max_examples=500, deadline=None)
@given(st.text(), st.booleans())
def test_visible_leaves_nothing_a_terminal_acts_on(text: str, one_line: bool) -> None:
    shown = visible(text, one_line=one_line)
    shown.encode("utf-8")  # no lone surrogate is left
    allowed = "" if one_line else "\n\t"
    for ch in shown:
        code = ord(ch)
        assert ch in allowed or not (code < 0x20 or 0x7F <= code <= 0x9F), repr(shown)
        assert not 0x202A <= code <= 0x202E
