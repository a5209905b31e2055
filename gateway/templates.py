"""The bot's own words, per language, from ``config/templates.yaml``.

Every message palm sends to a resident on its own behalf comes from here, so each
can be translated. A template may only use the placeholders listed for it; that is
checked at load, not when a resident is waiting for the answer.
"""

from __future__ import annotations

import re
import string
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError, model_validator

from gateway.errors import ConfigError
from gateway.rules import resolve_data_file

Lang = Literal["zh", "en"]

PLACEHOLDERS: dict[str, frozenset[str]] = {
    "ack": frozenset({"ticket"}),
    "reply": frozenset({"text", "ticket"}),
    "resolved": frozenset({"note", "ticket"}),
    "resolved_no_note": frozenset({"ticket"}),
    "help": frozenset(),
    "awaiting_approval": frozenset(),
    "parked": frozenset(),
}


class LanguageTemplates(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    ack: str
    reply: str = "{text}"
    resolved: str
    resolved_no_note: str
    help: str
    awaiting_approval: str = ""
    """Said once in a new group or room until an admin approves it ('' = the built-in
    text, so a templates file from before admission still loads)."""
    parked: str = ""
    """Said to a resident whose message could not be filed (the funnel parked it):
    staff will get back to them ('' = the built-in text)."""
    commands: dict[str, str] = {}
    """The bot's command menu (Telegram ``setMyCommands``): command -> description."""

    @model_validator(mode="after")
    def _commands(self) -> LanguageTemplates:
        for name, description in self.commands.items():
            if not re.fullmatch(r"[a-z0-9_]{1,32}", name):
                raise ValueError(
                    f"commands: {name!r}: 1-32 lowercase Latin letters, digits or _ "
                    "(Telegram's rule for bot commands)"
                )
            if not 1 <= len(description) <= 256:
                raise ValueError(f"commands: {name}: the description needs 1-256 characters")
        return self

    @model_validator(mode="after")
    def _placeholders(self) -> LanguageTemplates:
        for name, allowed in PLACEHOLDERS.items():
            used = {f for _, f, _, _ in string.Formatter().parse(getattr(self, name)) if f}
            unknown = used - allowed
            if unknown:
                raise ValueError(
                    f"{name}: unknown placeholder {{{sorted(unknown)[0]}}}; "
                    f"allowed: {', '.join(sorted(allowed)) or 'none'}"
                )
        return self


class TemplatesFile(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    zh: LanguageTemplates
    en: LanguageTemplates


def pick_language(language: str | None, default: str) -> Lang:
    """``zh-hans`` -> zh, ``en-GB`` -> en, anything else -> the configured locale."""
    code = (language or "").lower()
    if code.startswith("zh"):
        return "zh"
    if code.startswith("en"):
        return "en"
    return "en" if default == "en" else "zh"


_AWAITING_APPROVAL: dict[Lang, str] = {
    "zh": "您好！本群尚未获得物业管理处批准，批准前机器人不会处理消息或发送通知。",
    "en": "Hello! This chat is awaiting approval by the property office. Until then the "
    "bot neither handles messages nor posts notices here.",
}

_PARKED: dict[Lang, str] = {
    "zh": "收到您的消息。系统暂时未能为它登记工单，工作人员会看到并尽快联系您，无需重复发送。",
    "en": "We got your message. It could not be filed as a ticket just now; staff will see "
    "it and get back to you. No need to send it again.",
}


class Templates:
    def __init__(self, spec: TemplatesFile) -> None:
        self._spec = spec

    def _get(self, lang: Lang) -> LanguageTemplates:
        return self._spec.zh if lang == "zh" else self._spec.en

    def ack(self, lang: Lang, ticket: str) -> str:
        return self._get(lang).ack.format(ticket=ticket)

    def reply(self, lang: Lang, ticket: str, text: str) -> str:
        return self._get(lang).reply.format(ticket=ticket, text=text)

    def resolved(self, lang: Lang, ticket: str, note: str | None) -> str:
        t = self._get(lang)
        if note:
            return t.resolved.format(ticket=ticket, note=note)
        return t.resolved_no_note.format(ticket=ticket)

    def help(self, lang: Lang) -> str:
        return self._get(lang).help

    def awaiting_approval(self, lang: Lang) -> str:
        return self._get(lang).awaiting_approval or _AWAITING_APPROVAL[lang]

    def parked(self, lang: Lang) -> str:
        return self._get(lang).parked or _PARKED[lang]

    def commands(self, lang: Lang) -> dict[str, str]:
        return dict(self._get(lang).commands)


def load_templates(path: Path) -> Templates:
    file = resolve_data_file(path)
    name = str(file)
    try:
        data = yaml.safe_load(file.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError("templates file not found", file=name) from None
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(f"cannot read: {exc}", file=name) from None
    try:
        return Templates(TemplatesFile.model_validate(data or {}))
    except ValidationError as exc:
        err = exc.errors(include_input=False)[0]
        key = ".".join(str(p) for p in err["loc"]) or "(top level)"
        msg = "unknown key" if err["type"] == "extra_forbidden" else err["msg"]
        raise ConfigError(msg.removeprefix("Value error, "), file=name, key=key) from None


_CACHE: dict[Path, Templates] = {}


def templates_for(path: Path, *, reload: bool = False) -> Templates:
    """Process-wide templates for ``path``; ``reload`` re-reads (keeps the old on error)."""
    if reload or path not in _CACHE:
        _CACHE[path] = load_templates(path)
    return _CACHE[path]


def reload_templates() -> None:
    for path in list(_CACHE):
        templates_for(path, reload=True)
