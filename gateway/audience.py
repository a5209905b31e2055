"""Audience expressions: which targets an announcement goes to.

Grammar (``!`` binds tightest, then ``&``, then ``|``)::

    expr  := and ('|' and)*
    and   := unary ('&' unary)*
    unary := '!' unary | atom
    atom  := '(' expr ')' | '*' | TAG          TAG: any run without spaces or & | ! ( ) *

Nesting (``(`` and ``!``) is bounded at ``MAX_DEPTH`` levels, with an error at the
column where it went deeper, so the recursive parser, printer and evaluator never
hit Python's recursion limit (1,000 ``!`` or 400 ``(`` used to be a 500). A tag must
pass ``gateway.tags.validate_tag`` (printable, no whitespace, at most 64 characters);
it is taken in NFC, as tags are stored.

A tag selects the *active* targets carrying it; ``*`` selects every active *group*
target; ``!x`` is every active target not selected by ``x``. Errors carry the 1-based
column where the parser stopped, e.g. ``building:5 &`` -> "expected a tag after '&'
at column 13". A well-formed expression that selects nothing is also an error, so a
typo in a tag never turns into a silent no-op.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass

from gateway.errors import AudienceError
from gateway.safety.inert import visible
from gateway.tags import tag_problem
from gateway.targets import TargetDirectory

__all__ = ["All", "And", "Expr", "Not", "Or", "Tag", "parse", "resolve", "tags_of", "to_text"]

_SPECIAL = frozenset("&|!()*")
MAX_LENGTH = 2000
MAX_DEPTH = 32


@dataclass(frozen=True, slots=True)
class Tag:
    name: str


@dataclass(frozen=True, slots=True)
class All:
    """``*``: every active group target."""


@dataclass(frozen=True, slots=True)
class Not:
    inner: Expr


@dataclass(frozen=True, slots=True)
class And:
    items: tuple[Expr, ...]


@dataclass(frozen=True, slots=True)
class Or:
    items: tuple[Expr, ...]


Expr = Tag | All | Not | And | Or


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0  # 0-based; columns in messages are pos + 1
        self.depth = 0  # open '(' and '!' around the current position

    def _deeper(self) -> None:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise self._fail(
                f"the expression nests deeper than {MAX_DEPTH} levels",
                f"括号或「!」嵌套超过了 {MAX_DEPTH} 层",
            )

    def _skip(self) -> None:
        while self.pos < len(self.text) and self.text[self.pos].isspace():
            self.pos += 1

    def _peek(self) -> str:
        self._skip()
        return self.text[self.pos] if self.pos < len(self.text) else ""

    def _fail(self, message: str, zh: str) -> AudienceError:
        return AudienceError(message, column=self.pos + 1, zh=zh)

    def parse(self) -> Expr:
        if not self.text.strip():
            raise AudienceError("the audience expression is empty", column=1, zh="受众是空的")
        expr = self._or(after=None)
        ch = self._peek()
        if ch == ")":
            raise self._fail("unexpected ')'", "多了一个「)」")
        if ch:
            word = self._word()
            raise self._fail(
                f"expected '&' or '|' before {word!r}", f"「{_shown(word)}」前面缺少「&」或「|」"
            )
        return expr

    def _word(self) -> str:
        end = self.pos
        while end < len(self.text) and not self.text[end].isspace():
            end += 1
        return self.text[self.pos : end]

    def _expected_tag(self, after: str | None, ch: str) -> AudienceError:
        where = f" after '{after}'" if after else ""
        got = f", got '{ch}'" if ch else ""
        zh = (f"「{after}」后面" if after else "这里") + "应是一个标签"
        return self._fail(f"expected a tag{where}{got}", zh + (f"，却是「{ch}」" if ch else ""))

    def _or(self, after: str | None) -> Expr:
        items = [self._and(after)]
        while self._peek() == "|":
            self.pos += 1
            items.append(self._and("|"))
        return items[0] if len(items) == 1 else Or(tuple(items))

    def _and(self, after: str | None) -> Expr:
        items = [self._unary(after)]
        while self._peek() == "&":
            self.pos += 1
            items.append(self._unary("&"))
        return items[0] if len(items) == 1 else And(tuple(items))

    def _unary(self, after: str | None) -> Expr:
        if self._peek() == "!":
            self._deeper()
            self.pos += 1
            inner = Not(self._unary("!"))
            self.depth -= 1
            return inner
        return self._atom(after)

    def _atom(self, after: str | None) -> Expr:
        ch = self._peek()
        if ch == "(":
            self._deeper()
            opened = self.pos
            self.pos += 1
            inner = self._or("(")
            if self._peek() != ")":
                if self._peek():
                    word = self._word()
                    raise self._fail(
                        f"expected ')' or an operator before {word!r}",
                        f"「{_shown(word)}」前面缺少「)」或「&」「|」",
                    )
                raise self._fail(
                    f"missing ')' to close the '(' of column {opened + 1}",
                    f"第 {opened + 1} 个字符的「(」缺少对应的「)」",
                )
            self.pos += 1
            self.depth -= 1
            return inner
        if ch == "*":
            self.pos += 1
            return All()
        if not ch or ch in _SPECIAL:
            raise self._expected_tag(after, ch)
        start = self.pos
        while (
            self.pos < len(self.text)
            and not self.text[self.pos].isspace()
            and self.text[self.pos] not in _SPECIAL
        ):
            self.pos += 1
        name = unicodedata.normalize("NFC", self.text[start : self.pos])
        problem = tag_problem(name)
        if problem:
            raise AudienceError(problem.en, column=start + 1, zh=problem.zh)
        return Tag(name)


def parse(text: str) -> Expr:
    """Parse an audience expression; raise ``AudienceError`` with the column on error."""
    if len(text) > MAX_LENGTH:
        raise AudienceError(
            f"the audience expression is longer than {MAX_LENGTH} characters",
            zh=f"受众表达式超过了 {MAX_LENGTH} 个字符",
        )
    return _Parser(text).parse()


def _shown(word: str) -> str:
    """A word of the person's input, quoted in a Chinese message (controls escaped)."""
    return visible(word, one_line=True)


def to_text(expr: Expr) -> str:
    """Print an expression so that ``parse(to_text(e)) == e``."""
    if isinstance(expr, Tag):
        return expr.name
    if isinstance(expr, All):
        return "*"
    if isinstance(expr, Not):
        return "!" + _operand(expr.inner)
    sep = " & " if isinstance(expr, And) else " | "
    return sep.join(_operand(i) for i in expr.items)


def _operand(expr: Expr) -> str:
    # Compound operands are always parenthesised, so nesting survives a round trip.
    return f"({to_text(expr)})" if isinstance(expr, And | Or) else to_text(expr)


def tags_of(expr: Expr) -> set[str]:
    if isinstance(expr, Tag):
        return {expr.name}
    if isinstance(expr, All):
        return set()
    if isinstance(expr, Not):
        return tags_of(expr.inner)
    return set().union(*(tags_of(i) for i in expr.items))


def evaluate(
    expr: Expr, *, active: set[str], groups: set[str], tagged: dict[str, set[str]]
) -> set[str]:
    """Pure set evaluation; ``tagged`` maps each tag to the ids carrying it."""
    if isinstance(expr, Tag):
        return tagged.get(expr.name, set()) & active
    if isinstance(expr, All):
        return groups & active
    if isinstance(expr, Not):
        return active - evaluate(expr.inner, active=active, groups=groups, tagged=tagged)
    parts = [evaluate(i, active=active, groups=groups, tagged=tagged) for i in expr.items]
    if isinstance(expr, And):
        return set.intersection(*parts)
    return set.union(*parts)


def _uses(expr: Expr, kind: type[All] | type[Not]) -> bool:
    if isinstance(expr, kind):
        return True
    if isinstance(expr, Not):
        return _uses(expr.inner, kind)
    if isinstance(expr, And | Or):
        return any(_uses(i, kind) for i in expr.items)
    return False


async def resolve(
    directory: TargetDirectory, text: str, *, exclude: frozenset[str] = frozenset()
) -> list[str]:
    """The active target ids ``text`` selects, sorted; ``AudienceError`` if none.

    ``exclude`` are never selected, whatever the expression (staff rooms).
    """
    expr = parse(text)
    tagged = await directory.tagged(tags_of(expr))
    has_all, has_not = _uses(expr, All), _uses(expr, Not)
    if has_all or has_not:
        active = await directory.active_ids()
    else:
        # Without ! or * the result lies inside the tagged sets: only check those
        # ids, not the whole (maybe 100k) directory.
        active = await directory.which_active(set().union(*tagged.values()))
    groups = await directory.active_group_ids() if has_all else set()
    chosen = evaluate(expr, active=active, groups=groups, tagged=tagged) - exclude
    if not chosen:
        raise AudienceError(
            f"the audience {text.strip()!r} matches no active target",
            zh=f"受众「{_shown(' '.join(text.split()))}」没有匹配到任何可用的群聊",
        )
    return sorted(chosen)
