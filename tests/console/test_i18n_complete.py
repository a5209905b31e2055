"""Every text the console passes through ``t("...")`` has its Chinese: a Chinese page
never shows an English phrase because one key was added without its translation."""

from __future__ import annotations

import re
from pathlib import Path

from gateway.console import i18n

CONSOLE = Path(i18n.__file__).parent
CALL = re.compile(r"""\bt\(\s*(["'])((?:(?!\1).)+)\1""")


def _keys() -> dict[str, str]:
    found: dict[str, str] = {}
    files = [*CONSOLE.glob("templates/*.html"), *CONSOLE.glob("*.py")]
    for path in files:
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            for match in CALL.finditer(line):
                found.setdefault(match.group(2), f"{path.name}:{n}")
    return found


def test_every_console_text_has_its_chinese() -> None:
    keys = _keys()
    assert len(keys) > 100  # the scan finds the console's texts at all
    missing = {key: where for key, where in keys.items() if key not in i18n.ZH}
    assert not missing, missing
