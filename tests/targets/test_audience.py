"""Audience expressions: the parser (property-tested) and resolution against Redis."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.audience import All, And, Expr, Not, Or, Tag, evaluate, parse, resolve, to_text
from gateway.errors import AudienceError
from gateway.models import ChatKind, TargetId
from gateway.runtime import Runtime
from gateway.targets import TargetDirectory

TAGS = ["building:5", "building:6", "compound:guanmei", "staff", "楼5", "a-b_c.d"]

tags = st.sampled_from(TAGS).map(Tag)
exprs: st.SearchStrategy[Expr] = st.recursive(
    tags | st.just(All()),
    lambda inner: st.one_of(
        inner.map(Not),
        st.lists(inner, min_size=2, max_size=3).map(lambda xs: And(tuple(xs))),
        st.lists(inner, min_size=2, max_size=3).map(lambda xs: Or(tuple(xs))),
    ),
    max_leaves=8,
)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("building:5 &", "expected a tag after '&' at column 13"),
        ("", "the audience expression is empty at column 1"),
        ("(building:5 | staff", "missing ')' to close the '(' of column 1 at column 20"),
        ("building:5 staff", "expected '&' or '|' before 'staff' at column 12"),
        ("building:5 | )", "expected a tag after '|', got ')' at column 14"),
        ("a)", "unexpected ')' at column 2"),
        ("!", "expected a tag after '!' at column 2"),
        ("& a", "expected a tag, got '&' at column 1"),
    ],
)
def test_errors_point_at_the_column(text: str, message: str) -> None:
    with pytest.raises(AudienceError) as info:
        parse(text)
    assert str(info.value) == message


def test_precedence_not_and_or() -> None:
    assert parse("a | b & !c") == Or((Tag("a"), And((Tag("b"), Not(Tag("c"))))))
    assert parse("(a | b) & c") == And((Or((Tag("a"), Tag("b"))), Tag("c")))
    assert parse(" * & !staff ") == And((All(), Not(Tag("staff"))))


@given(exprs)
def test_printer_parser_round_trip(expr: Expr) -> None:
    assert parse(to_text(expr)) == expr


@given(st.text(alphabet="ab &|!()*: \t楼", max_size=30))
@settings(max_examples=500)
def test_random_input_raises_only_audience_errors(text: str) -> None:
    column: int | None = None
    try:
        parse(text)
    except AudienceError as exc:
        column = exc.column
    assert column is None or 1 <= column <= len(text) + 1


universe = st.sets(st.integers(0, 30), max_size=25)


@given(
    exprs,
    st.fixed_dictionaries({t: universe for t in TAGS}),
    universe,
    universe,
)
def test_evaluation_agrees_with_a_per_target_oracle(
    expr: Expr, tagged: dict[str, set[int]], active: set[int], groups: set[int]
) -> None:
    def holds(e: Expr, t: int) -> bool:
        if isinstance(e, Tag):
            return t in tagged[e.name]
        if isinstance(e, All):
            return t in groups
        if isinstance(e, Not):
            return not holds(e.inner, t)
        if isinstance(e, And):
            return all(holds(i, t) for i in e.items)
        return any(holds(i, t) for i in e.items)

    s = {k: {str(i) for i in v} for k, v in tagged.items()}
    got = evaluate(expr, active={str(i) for i in active}, groups={str(i) for i in groups}, tagged=s)
    assert got == {str(t) for t in active if holds(expr, t)}


async def test_resolve_selects_exactly_the_matching_active_targets(runtime: Runtime) -> None:
    d = TargetDirectory(runtime.redis, runtime.keys)
    chats = {
        "telegram:-1": ["building:5", "compound:guanmei"],
        "matrix:!b5:x": ["building:5", "compound:guanmei"],
        "telegram:-2": ["building:6", "compound:guanmei"],
        "telegram:-3": ["building:5", "staff"],
        "telegram:-4": ["building:5"],  # will be inactive
    }
    for t, tg in chats.items():
        await d.upsert(TargetId(t), ChatKind.GROUP, t)
        await d.tag(TargetId(t), tg)
    await d.upsert(TargetId("telegram:99"), ChatKind.DIRECT, "a resident")
    await d.tag(TargetId("telegram:99"), ["building:5"])
    await d.mark_inactive(TargetId("telegram:-4"), "bot was kicked")

    assert await resolve(d, "building:5") == [
        "matrix:!b5:x", "telegram:-1", "telegram:-3", "telegram:99"
    ]  # fmt: skip
    assert await resolve(d, "compound:guanmei & !building:6") == ["matrix:!b5:x", "telegram:-1"]
    assert await resolve(d, "building:6 | staff") == ["telegram:-2", "telegram:-3"]
    assert await resolve(d, "*") == ["matrix:!b5:x", "telegram:-1", "telegram:-2", "telegram:-3"]
    with pytest.raises(AudienceError, match="matches no active target"):
        await resolve(d, "building:7")
    with pytest.raises(AudienceError, match="matches no active target"):
        await resolve(d, "building:5 & building:6")
