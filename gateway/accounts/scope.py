"""Scopes: an audience expression that bounds what an account or token sees and does.

A chat is *inside* a scope when the scope's expression selects it, judged on the
chat's tags (and kind, for ``*``) whatever its state: a ticket from a chat that has
since gone inactive still belongs to the compound it came from. ``None`` is no
scope: everything. Every scope decision in palm goes through ``Scope.permits`` (pure)
and the helpers below, so there is one rule, tested as one table.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from gateway import audience
from gateway.audience import All, And, Expr, Not, Or, Tag
from gateway.errors import AudienceError, Forbidden, InputError
from gateway.models import ChatKind
from gateway.targets import Target, TargetDirectory

__all__ = ["Scope", "check_audience", "check_retag", "check_target", "outside", "targets_in_scope"]

MAX_NAMED = 10  # chats named in a 403; the count says how many more


@dataclass(frozen=True, slots=True)
class Scope:
    expr: str
    tree: Expr = field(compare=False, repr=False)

    @classmethod
    def parse(cls, expr: str | None) -> Scope | None:
        """``None`` or blank: no scope. A bad expression: ``InputError`` with the column."""
        if expr is None or not expr.strip():
            return None
        try:
            expr.encode("utf-8")
        except UnicodeEncodeError:
            raise InputError(
                "scope: not valid Unicode text (a lone surrogate)",
                zh="范围：不是有效的文本（含有孤立的代理字符）",
            ) from None
        try:
            tree = audience.parse(expr)
        except AudienceError as exc:
            raise InputError(f"scope: {exc.message}", zh=f"范围：{exc.say('zh')}") from None
        return cls(audience.to_text(tree), tree)

    def permits_tags(self, tags: Iterable[str], *, group: bool = True) -> bool:
        """Is a chat with these tags inside the scope? ``group``: the chat's kind (for ``*``)."""
        return _holds(self.tree, frozenset(tags), group)

    def permits(self, target: Target) -> bool:
        return self.permits_tags(target.tags, group=target.kind is ChatKind.GROUP)


def _holds(expr: Expr, tags: frozenset[str], group: bool) -> bool:
    if isinstance(expr, Tag):
        return expr.name in tags
    if isinstance(expr, All):
        return group
    if isinstance(expr, Not):
        return not _holds(expr.inner, tags, group)
    if isinstance(expr, And):
        return all(_holds(i, tags, group) for i in expr.items)
    assert isinstance(expr, Or)
    return any(_holds(i, tags, group) for i in expr.items)


async def targets_in_scope(directory: TargetDirectory, scope: Scope | None) -> set[str] | None:
    """Every known chat inside ``scope`` (any state); ``None`` when unrestricted.

    Without ``!`` or ``*`` the answer lies inside the scope's tag sets, so only those
    are read, not the whole (maybe 100k) directory.
    """
    if scope is None:
        return None
    if _uses_all_or_not(scope.tree):
        return {t.id for t in await directory.list() if scope.permits(t)}
    tagged = await directory.tagged(audience.tags_of(scope.tree))
    universe: set[str] = set().union(*tagged.values())
    return audience.evaluate(scope.tree, active=universe, groups=set(), tagged=tagged)


def _uses_all_or_not(expr: Expr) -> bool:
    if isinstance(expr, All | Not):
        return True
    if isinstance(expr, And | Or):
        return any(_uses_all_or_not(i) for i in expr.items)
    return False


async def outside(directory: TargetDirectory, scope: Scope | None, ids: Iterable[str]) -> list[str]:
    """The ids among ``ids`` that lie outside ``scope`` (unknown chats count as outside)."""
    wanted = sorted(set(ids))
    if scope is None or not wanted:
        return []
    known: dict[str, Target] = {t.id: t for t in await directory.many(wanted)}
    return [i for i in wanted if i not in known or not scope.permits(known[i])]


async def check_audience(
    directory: TargetDirectory, scope: Scope | None, matched_ids: Iterable[str]
) -> None:
    """403 naming the chats of ``matched_ids`` outside ``scope``."""
    bad = await outside(directory, scope, matched_ids)
    if not bad:
        return
    assert scope is not None
    more, zh_more = "", ""
    if len(bad) > MAX_NAMED:
        more, zh_more = f" and {len(bad) - MAX_NAMED} more", f" 等另外 {len(bad) - MAX_NAMED} 个"
    raise Forbidden(
        f"outside your scope {scope.expr!r}: {', '.join(bad[:MAX_NAMED])}{more}",
        zh=f"这些群聊不在你负责的范围（{scope.expr}）内：{'、'.join(bad[:MAX_NAMED])}{zh_more}",
    )


async def check_target(directory: TargetDirectory, scope: Scope | None, target: str) -> None:
    await check_audience(directory, scope, [target])


async def check_retag(
    directory: TargetDirectory, scope: Scope | None, target: str, tags: Iterable[str]
) -> None:
    """A re-tag by a scoped account: the chat is inside the scope, and stays inside.

    Else a scoped admin could tag a chat out of their scope (and lose it), or hand it
    to a compound they do not manage.
    """
    await check_target(directory, scope, target)
    if scope is None:
        return
    current = await directory.get(target)
    group = current is None or current.kind is ChatKind.GROUP
    if not scope.permits_tags(tags, group=group):
        raise Forbidden(
            f"these tags would put {target} outside your scope ({scope.expr})",
            zh=f"改成这些标签后，{target} 就不在你负责的范围（{scope.expr}）内了",
        )
