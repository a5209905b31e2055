"""`palm run` registers the bot's command menu with setMyCommands (zh, en and the
default language; private and group chats), once per change of the templates."""

from __future__ import annotations

import shutil
import signal
from pathlib import Path

import pytest
from redis.asyncio import Redis

from gateway.errors import ConfigError
from gateway.keys import Keys
from gateway.templates import load_templates
from tests.core.helpers import REPO
from tests.e2e.conftest import PalmFactory, eventually, fake_tg, make_palm
from tests.fakes.telegram_api import FakeTelegram

__all__ = ["fake_tg", "make_palm"]

KEYS = {
    (scope, lang) for scope in ("all_private_chats", "all_group_chats") for lang in ("zh", "en", "")
}


async def test_menu_registered_in_both_languages_and_again_on_change(
    fake_tg: FakeTelegram, make_palm: PalmFactory, tmp_path: Path, redis: Redis, keys: Keys
) -> None:
    templates = tmp_path / "templates.yaml"
    shutil.copy(REPO / "config/templates.yaml", templates)
    palm = make_palm(telegram=fake_tg, templates_file=str(templates), locale="zh")
    palm.start()
    await palm.ready()
    bot = fake_tg.bot
    await eventually(lambda: set(bot.commands) == KEYS, what="setMyCommands for every scope")
    assert len(bot.command_calls) == 6
    zh = {c["command"]: c["description"] for c in bot.commands[("all_group_chats", "zh")]}
    en = {c["command"]: c["description"] for c in bot.commands[("all_group_chats", "en")]}
    assert set(zh) == set(en) == {"report", "ask", "help"}
    assert zh["ask"] == "向工作人员提问"
    assert en["ask"] == "Ask the staff a question"
    assert bot.commands[("all_private_chats", "")] == bot.commands[("all_private_chats", "zh")]

    # A restart with the same templates registers nothing (the digest is in Redis).
    digest = keys("telegram", fake_tg.bot.bot_id, "command-menu")
    await eventually(lambda: redis.exists(digest), what="the registered digest")
    palm.kill9()
    palm.start()
    await palm.ready()
    assert len(bot.command_calls) == 6

    # Templates change + SIGHUP: registered again.
    text = templates.read_text(encoding="utf-8")
    templates.write_text(text.replace("How this bot works", "What this bot does"), "utf-8")
    assert palm.proc is not None
    palm.proc.send_signal(signal.SIGHUP)
    await eventually(lambda: len(bot.command_calls) == 12, what="the menu registered again")
    en = {c["command"]: c["description"] for c in bot.commands[("all_private_chats", "en")]}
    assert en["help"] == "What this bot does"


def test_a_bad_command_name_is_a_config_error(tmp_path: Path) -> None:
    templates = tmp_path / "t.yaml"
    text = (REPO / "config/templates.yaml").read_text(encoding="utf-8")
    templates.write_text(text.replace('    ask: "Ask', '    Ask-Staff: "Ask'), "utf-8")
    with pytest.raises(ConfigError, match=r"t.yaml: en: commands: 'Ask-Staff': 1-32 lowercase"):
        load_templates(templates)
