"""Keyword rules: category and urgency of a ticket from its text (``config/rules.yaml``).

Matching is case-insensitive (``casefold`` after NFKC, so full-width latin matches
too). Chinese has no spaces, so a keyword with CJK characters matches as a plain
substring. A latin keyword only matches as a whole word (``fire`` must not match
``firewall``), and the spaces inside ``gas leak`` match any run of whitespace.

A bad rules file raises one ``ConfigError`` naming the file and the key path; the
``RuleBook`` holder then keeps the rules it had, so a typo never half-loads.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError

from gateway.errors import ConfigError
from gateway.models import Priority

Category = Literal[
    "water",
    "electricity",
    "gas",
    "elevator",
    "fire-safety",
    "parking",
    "sanitation",
    "noise",
    "security",
    "other",
]
CATEGORY_WORDS: dict[str, tuple[str, str]] = {
    "water": ("water", "供水"),
    "electricity": ("electricity", "供电"),
    "gas": ("gas", "燃气"),
    "elevator": ("elevator", "电梯"),
    "fire-safety": ("fire safety", "消防安全"),
    "parking": ("parking", "停车"),
    "sanitation": ("sanitation", "环境卫生"),
    "noise": ("noise", "噪音"),
    "security": ("security", "安保"),
    "other": ("other", "其他"),
}
"""Each ``Category`` in words, (en, zh): what staff read in the console and in their
staff rooms, where ``fire-safety`` would be a code, not a word."""


def category_words(name: str, lang: str) -> str:
    """A ticket's category in words in ``lang``; an unknown one as it is."""
    names = CATEGORY_WORDS.get(name)
    return name if names is None else names[1 if lang == "zh" else 0]


Keyword = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class CategoryRule(_Strict):
    category: Category
    keywords: Annotated[list[Keyword], Field(min_length=1)]


class RulesFile(_Strict):
    """The YAML schema. ``categories`` are tried in order; the first match wins."""

    version: Literal[1] = 1
    default_category: Category = "other"
    urgent: list[Keyword] = []
    categories: list[CategoryRule] = []


@dataclass(frozen=True, slots=True)
class Classification:
    category: str
    priority: Priority
    matched: tuple[str, ...] = ()
    """The keywords that decided, for ``palm tickets show``."""


def normalise(text: str) -> str:
    return unicodedata.normalize("NFKC", text).casefold()


_LATIN = re.compile(r"^[a-z0-9][a-z0-9 '\-]*$")


def _pattern(keyword: str) -> str:
    kw = normalise(keyword)
    if _LATIN.match(kw):
        body = r"\s+".join(re.escape(w) for w in kw.split())
        # Not \b: Python counts CJK characters as word characters, and "fire火灾"
        # should still match "fire". Only latin letters and digits make a word longer.
        return rf"(?<![a-z0-9]){body}(?![a-z0-9])"
    return re.escape(kw)


def _compile(keywords: list[str]) -> re.Pattern[str] | None:
    if not keywords:
        return None
    # Longest first, so the reported match is the most specific keyword.
    ordered = sorted({normalise(k) for k in keywords}, key=len, reverse=True)
    return re.compile("|".join(f"({_pattern(k)})" for k in ordered))


@dataclass(frozen=True, slots=True)
class RuleSet:
    source: str
    default_category: str
    urgent: re.Pattern[str] | None
    categories: tuple[tuple[str, re.Pattern[str]], ...]
    keyword_count: int
    urgent_count: int

    @classmethod
    def build(cls, spec: RulesFile, source: str) -> RuleSet:
        cats = []
        for rule in spec.categories:
            pattern = _compile(rule.keywords)
            assert pattern is not None  # min_length=1
            cats.append((rule.category, pattern))
        count = len(spec.urgent) + sum(len(r.keywords) for r in spec.categories)
        return cls(
            source,
            spec.default_category,
            _compile(spec.urgent),
            tuple(cats),
            count,
            len(set(spec.urgent)),
        )

    def classify(self, text: str) -> Classification:
        norm = normalise(text)
        matched: list[str] = []
        category = self.default_category
        for name, pattern in self.categories:
            hit = pattern.search(norm)
            if hit:
                category = name
                matched.append(hit.group(0))
                break
        priority = Priority.NORMAL
        if self.urgent is not None:
            hit = self.urgent.search(norm)
            if hit:
                priority = Priority.URGENT
                matched.append(hit.group(0))
        return Classification(category, priority, tuple(matched))

    def summary(self) -> dict[str, object]:
        return {
            "file": self.source,
            "categories": [name for name, _ in self.categories],
            "urgent_keywords": self.urgent_count,
            "keywords": self.keyword_count,
            "default_category": self.default_category,
        }


EMPTY = RuleSet("(none)", "other", None, (), 0, 0)


def _key_path(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else ("." if out else "") + part
    return out or "(top level)"


def load_rules(path: Path) -> RuleSet:
    """Read and validate a rules file; raise one ``ConfigError`` naming file and key."""
    name = str(path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError("rules file not found", file=name) from None
    except OSError as exc:
        raise ConfigError(f"cannot read: {exc.strerror}", file=name) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}: " if mark is not None else ""
        raise ConfigError(
            f"{where}{getattr(exc, 'problem', None) or 'bad YAML'}", file=name
        ) from None
    try:
        spec = RulesFile.model_validate(data if data is not None else {})
    except ValidationError as exc:
        errs = exc.errors(include_input=False)
        first = errs[0]
        msg = "unknown key" if first["type"] == "extra_forbidden" else first["msg"]
        more = f" (and {len(errs) - 1} more)" if len(errs) > 1 else ""
        raise ConfigError(msg + more, file=name, key=_key_path(tuple(first["loc"]))) from None
    return RuleSet.build(spec, name)


_REPO_CONFIG = Path(__file__).resolve().parent.parent / "config"


def resolve_data_file(path: Path) -> Path:
    """Where a data file (rules, templates) really is.

    ``load_config`` already made the path absolute when it exists next to the config
    file. Otherwise try it as given (relative to the working directory), then the
    checkout's own ``config/`` directory, so ``palm run`` works from anywhere.
    """
    if path.is_absolute() or path.exists():
        return path
    shipped = _REPO_CONFIG / path.name
    return shipped if shipped.exists() else path


class RuleBook:
    """The rules in force, swapped whole on reload (never half-loaded)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._rules = EMPTY

    @property
    def rules(self) -> RuleSet:
        return self._rules

    def reload(self) -> RuleSet:
        """Load the file; on any error raise ``ConfigError`` and keep the old rules."""
        self._rules = load_rules(resolve_data_file(self.path))
        return self._rules


_BOOKS: dict[Path, RuleBook] = {}


def rulebook(path: Path) -> RuleBook:
    """The process-wide book for ``path``, loaded on first use (SIGHUP reloads it)."""
    book = _BOOKS.get(path)
    if book is None:
        book = RuleBook(path)
        book.reload()
        _BOOKS[path] = book
    return book


def reload_all() -> None:
    """SIGHUP: reload every book in use. The first error is raised after trying all."""
    errors: list[ConfigError] = []
    for book in _BOOKS.values():
        try:
            book.reload()
        except ConfigError as exc:
            errors.append(exc)
    if errors:
        raise errors[0]
