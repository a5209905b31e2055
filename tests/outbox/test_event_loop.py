"""``palm run`` on uvloop where it is installed; ``--event-loop`` chooses."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path

import pytest

from gateway.cli.loop import LoopUnavailable, runner
from tests.e2e.conftest import PalmFactory, eventually
from tests.fakes.telegram_api import FakeTelegram

REPO = Path(__file__).resolve().parents[2]


def test_auto_is_uvloop_where_installed() -> None:
    import uvloop

    assert runner("auto") is uvloop.run
    assert runner("uvloop") is uvloop.run
    assert runner("asyncio") is asyncio.run


def test_without_uvloop_auto_falls_back_and_uvloop_is_a_clear_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "uvloop", None)  # import uvloop -> ImportError
    assert runner("auto") is asyncio.run
    with pytest.raises(LoopUnavailable):
        runner("uvloop")

    # palm run itself, in a child (if the flag were ignored, it would start palm; the
    # timeout ends that as a failure)
    blocked = (
        "import sys; sys.modules['uvloop'] = None; from gateway.cli.main import main; "
        "sys.exit(main(['-c', 'config/quickstart.yaml', 'run', '--event-loop', 'uvloop']))"
    )
    done = subprocess.run(
        [sys.executable, "-c", blocked], cwd=REPO, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 2
    assert (
        done.stderr == "palm: --event-loop uvloop: uvloop is not installed (pip install uvloop)\n"
    )


@pytest.mark.parametrize(("flag", "expected"), [(None, "uvloop"), ("asyncio", "asyncio")])
async def test_palm_run_says_which_loop_it_runs_and_delivers(
    fake_tg: FakeTelegram, make_palm: PalmFactory, flag: str | None, expected: str
) -> None:
    palm = make_palm(telegram=fake_tg, targets=[{"id": "telegram:-1001", "tags": ["all"]}])
    if flag:
        palm.run_args = ["--event-loop", flag]
    palm.start()
    await palm.ready()
    starting = [ln for ln in palm.log.read_text().splitlines() if " starting " in ln]
    assert starting, palm.tail()
    assert f"event_loop={expected}" in starting[0]
    done = await palm.cli("announce", "Water off tomorrow 9-12", "--to", "all")
    assert done.returncode == 0, done.stderr
    await eventually(lambda: len(fake_tg.messages) == 1, what="the announcement")
    assert fake_tg.messages[0].chat_id == -1001
