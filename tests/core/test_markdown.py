from hypothesis import given
from hypothesis import strategies as st

from gateway.markdown import parse, to_html, to_plain


def test_styles_lists_and_escaping() -> None:
    blocks = parse("**Water off** <b>x</b> & _5_\n\n- 9:00\n- [map](https://e.org/?a=1&b=2)")
    assert to_html(blocks, block_tags=True) == (
        "<p><b>Water off</b> &lt;b&gt;x&lt;/b&gt; &amp; <i>5</i></p>"
        '<ul><li>9:00</li><li><a href="https://e.org/?a=1&amp;b=2">map</a></li></ul>'
    )
    assert to_html(blocks, block_tags=False).endswith(
        '• 9:00\n• <a href="https://e.org/?a=1&amp;b=2">map</a>'
    )
    assert to_plain(blocks).startswith("Water off <b>x</b> & 5")


def test_snake_case_and_lone_stars_are_literal() -> None:
    assert to_plain(parse("pipe_size_5 costs 5*3*2")) == "pipe_size_5 costs 5*3*2"


def test_javascript_links_are_not_links() -> None:
    html = to_html(parse("[x](javascript:alert(1))"), block_tags=True)
    assert "<a" not in html


@given(st.text())
def test_any_text_renders_without_raw_markup(text: str) -> None:
    html = to_html(parse(text), block_tags=True)
    # Every '<' in the output starts one of our tags: user text is always escaped.
    for i, ch in enumerate(html):
        if ch == "<":
            assert html.startswith(
                (
                    "<p>",
                    "</p>",
                    "<br>",
                    "<b>",
                    "</b>",
                    "<i>",
                    "</i>",
                    "<a ",
                    "</a>",
                    "<ul>",
                    "</ul>",
                    "<ol>",
                    "</ol>",
                    "<li>",
                    "</li>",
                ),
                i,
            )
