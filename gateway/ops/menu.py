"""The bot's command menu: what residents see when they type ``/`` (issue 16, item 9).

The commands and their descriptions come from the templates file (``commands:`` under
``zh`` and ``en``). ``palm run`` hands the menu to every adapter that can show one
(Telegram: ``setMyCommands`` per scope and ``language_code``); the adapter compares the
menu's digest with the one it registered last (kept in Redis), so a restart costs no
API call and a changed templates file (SIGHUP) is registered again within seconds.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
from dataclasses import dataclass
from typing import Literal, Protocol, runtime_checkable

from redis.exceptions import RedisError

from gateway.aio import checkpoint
from gateway.errors import GatewayError
from gateway.runtime import Runtime
from gateway.templates import Templates, templates_for

log = logging.getLogger("palm.ops")

CHECK_EVERY = 2.0
"""How often the templates' menu is compared with the registered one (no I/O when equal)."""
RETRY_EVERY = 30.0


@dataclass(frozen=True, slots=True)
class MenuEntry:
    scope: Literal["private", "group"]
    language: str
    """``zh``, ``en``, or ``""``: every other language (the config's ``locale``)."""
    commands: tuple[tuple[str, str], ...]


@dataclass(frozen=True, slots=True)
class CommandMenu:
    entries: tuple[MenuEntry, ...]

    def digest(self) -> str:
        raw = json.dumps([[e.scope, e.language, e.commands] for e in self.entries])
        return hashlib.sha256(raw.encode()).hexdigest()[:32]


@runtime_checkable
class ShowsCommandMenu(Protocol):
    """An adapter whose platform has a command menu."""

    async def set_command_menu(self, menu: CommandMenu) -> bool:
        """Register ``menu`` unless its digest is the registered one; True if it did."""
        ...


def build_menu(templates: Templates, locale: Literal["zh", "en"]) -> CommandMenu:
    entries: list[MenuEntry] = []
    languages: tuple[tuple[str, Literal["zh", "en"]], ...] = (
        ("zh", "zh"),
        ("en", "en"),
        ("", locale),
    )
    scopes: tuple[Literal["private", "group"], ...] = ("private", "group")
    for scope in scopes:
        for language, lang in languages:
            commands = tuple(templates.commands(lang).items())
            if commands:
                entries.append(MenuEntry(scope, language, commands))
    return CommandMenu(tuple(entries))


async def run_command_menu(rt: Runtime) -> None:
    """The ``palm run`` component: register the menu at start and whenever it changes."""
    registered: dict[str, str] = {}
    while True:
        checkpoint()
        menu = build_menu(templates_for(rt.config.templates_file), rt.config.locale)
        digest = menu.digest()
        wait = CHECK_EVERY
        for platform, adapter in rt.adapters.items():
            if registered.get(platform) == digest or not isinstance(adapter, ShowsCommandMenu):
                continue
            try:
                if await adapter.set_command_menu(menu):
                    log.info("command menu registered", extra={"platform": platform})
                registered[platform] = digest
            except (GatewayError, RedisError, OSError) as exc:
                log.warning("command menu not registered, retrying", extra={
                    "platform": platform, "error": str(exc)})  # fmt: skip
                wait = RETRY_EVERY
        await asyncio.sleep(wait)
