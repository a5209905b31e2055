"""The one scope rule, as a table: which chats a scope lets through."""

from __future__ import annotations

import pytest

from gateway.accounts import Scope, check_audience, targets_in_scope
from gateway.errors import Forbidden, InputError
from gateway.models import ChatKind, TargetId
from gateway.runtime import Runtime
from gateway.targets import TargetDirectory
from tests.outbox.helpers import seed

A5 = {"compound:a", "building:5"}
A6 = {"compound:a", "building:6"}
B1 = {"compound:b", "building:1"}
STAFF_A = {"compound:a", "staff"}


@pytest.mark.parametrize(
    ("scope", "tags", "group", "inside"),
    [
        ("compound:a", A5, True, True),
        ("compound:a", A6, True, True),
        ("compound:a", B1, True, False),
        ("compound:a", set(), True, False),
        ("compound:a", A5, False, True),  # a tagged direct chat belongs too
        ("compound:a & building:5", A5, True, True),
        ("compound:a & building:5", A6, True, False),
        ("building:5 | building:1", B1, True, True),
        ("building:5 | building:1", A6, True, False),
        ("compound:a & !staff", STAFF_A, True, False),
        ("compound:a & !staff", A5, True, True),
        ("!compound:b", A5, True, True),
        ("!compound:b", B1, True, False),
        ("!compound:b", set(), False, True),  # untagged chats are outside compound:b
        ("*", set(), True, True),
        ("*", A5, False, False),  # * is group chats only, as in an audience
        ("(compound:a | compound:b) & !(building:1)", B1, True, False),
        ("(compound:a | compound:b) & !(building:1)", A6, True, True),
    ],
)
def test_permits_tags(scope: str, tags: set[str], group: bool, inside: bool) -> None:
    parsed = Scope.parse(scope)
    assert parsed is not None
    assert parsed.permits_tags(tags, group=group) is inside


@pytest.mark.parametrize("blank", [None, "", "   "])
def test_no_scope_is_none(blank: str | None) -> None:
    assert Scope.parse(blank) is None


@pytest.mark.parametrize(
    ("expr", "column"), [("compound:a &", 13), ("(compound:a", 12), ("a b", 3), ("&", 1)]
)
def test_bad_scope_names_the_column(expr: str, column: int) -> None:
    with pytest.raises(InputError, match=f"scope: .*column {column}"):
        Scope.parse(expr)


def test_scope_text_is_normalised() -> None:
    scope = Scope.parse("  compound:a&!staff ")
    assert scope is not None
    assert scope.expr == "compound:a & !staff"
    assert scope == Scope.parse("compound:a & !staff")


@pytest.fixture
async def directory(runtime: Runtime) -> TargetDirectory:
    await seed(runtime, {"telegram:-1": sorted(A5), "matrix:!a6:x": sorted(A6)})
    await seed(runtime, {"telegram:-2": sorted(B1)})
    await seed(runtime, {"telegram:7": ["compound:a"]}, kind=ChatKind.DIRECT)
    d = TargetDirectory(runtime.redis, runtime.keys)
    await d.mark_inactive(TargetId("matrix:!a6:x"), "kicked")
    return d


@pytest.mark.parametrize(
    ("scope", "expected"),
    [
        (None, None),
        ("compound:a", {"telegram:-1", "matrix:!a6:x", "telegram:7"}),
        ("compound:a & building:6", {"matrix:!a6:x"}),  # inactive chats still belong
        ("*", {"telegram:-1", "matrix:!a6:x", "telegram:-2"}),
        ("!compound:a", {"telegram:-2"}),
        ("compound:c", set()),
    ],
)
async def test_targets_in_scope(
    directory: TargetDirectory, scope: str | None, expected: set[str] | None
) -> None:
    assert await targets_in_scope(directory, Scope.parse(scope)) == expected


async def test_check_audience_names_the_chats_outside(directory: TargetDirectory) -> None:
    scope = Scope.parse("compound:a")
    await check_audience(directory, scope, ["telegram:-1", "telegram:7"])
    await check_audience(directory, None, ["telegram:-2"])
    with pytest.raises(Forbidden) as err:
        await check_audience(directory, scope, ["telegram:-1", "telegram:-2", "telegram:-99"])
    assert err.value.http_status == 403
    assert "telegram:-2" in err.value.message
    assert "telegram:-99" in err.value.message
    assert "telegram:-1," not in err.value.message
