"""The CLI shows resident-written text inert, and refuses bad UTF-8 in its arguments."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

from gateway.config import GatewayConfig
from gateway.models import ChatKind, Command, TargetId
from gateway.runtime import Runtime
from gateway.targets import TargetDirectory
from tests.conftest import write_config
from tests.funnel.conftest import Pipeline
from tests.funnel.factory import message

ROOT = Path(__file__).resolve().parents[2]
HOSTILE = "[/] [link=https://evil.example]click[/link] \x1b[2J\x1b]0;owned\x07 \x9b31m \u202eabc"


def palm(cfg: Path, *args: str | bytes) -> subprocess.CompletedProcess[bytes]:
    env = {**os.environ, "COLUMNS": "400"}
    return subprocess.run(
        [str(ROOT / ".venv/bin/palm"), "-c", str(cfg), *args],
        capture_output=True, timeout=30, env=env,
    )  # fmt: skip


def _inert(out: bytes) -> str:
    text = out.decode()
    assert "\x1b" not in text
    assert "\x9b" not in text
    assert "\u202e" not in text
    assert "\x07" not in text
    return text


async def test_resident_text_is_shown_inert(
    runtime: Runtime, config: GatewayConfig, tmp_path: Path
) -> None:
    pipeline = Pipeline(runtime)
    await pipeline.consumer.start()
    await pipeline.feed(message(HOSTILE, command=Command.REPORT, name=f"name {HOSTILE}"))
    directory = TargetDirectory(runtime.redis, runtime.keys)
    await directory.upsert(TargetId("telegram:-42"), ChatKind.GROUP, f"title {HOSTILE}")
    await directory.mark_inactive(TargetId("telegram:-42"), f"kicked by {HOSTILE}")
    cfg = write_config(tmp_path / "palm.yaml", config)

    for args in (("tickets", "list"), ("tickets", "show", "T-1"), ("targets", "list")):
        done = palm(cfg, *args)
        assert done.returncode == 0, done.stderr.decode()
        shown = _inert(done.stdout)
        assert "[/]" in shown, args  # the markup is printed, not interpreted
        assert "\\x1b[2J" in shown, args  # the control is shown as an escape
    assert "[link=https://evil.example]" in _inert(palm(cfg, "targets", "list").stdout)

    as_json = palm(cfg, "tickets", "show", "T-1", "--json")
    assert b"\x1b" not in as_json.stdout
    assert b"\xc2\x9b" not in as_json.stdout  # U+009B escaped as \\u009b
    assert json.loads(as_json.stdout)["conversation"][0]["text"] == HOSTILE


def test_bad_utf8_arguments_get_one_line_and_exit_2(config: GatewayConfig, tmp_path: Path) -> None:
    cfg = write_config(tmp_path / "palm.yaml", config)
    for args in (
        ("announce", "hello", "--to", b"building:\xff"),
        ("targets", "tag", b"telegram:\xfe", "x"),
        ("tickets", "show", b"T-\xff\x1b"),
    ):
        done = palm(cfg, *args)
        assert done.returncode == 2
        err = done.stderr.decode()
        assert err.count("\n") == 1
        assert err.startswith("palm: argument ")
        assert "is not valid UTF-8" in err
        assert "\x1b" not in err


def test_errors_quoting_input_are_one_inert_line(config: GatewayConfig, tmp_path: Path) -> None:
    cfg = write_config(tmp_path / "palm.yaml", config)
    done = palm(cfg, "tickets", "show", "T-\x1b[2Jx\ny")
    assert done.returncode == 1
    err = done.stderr.decode()
    assert err.count("\n") == 1
    assert "\x1b" not in err
    done = palm(cfg, "announce", "x", "--to", "a & " + "!" * 1000 + "b")
    assert done.returncode == 1
    assert "nests deeper than 32 levels at column 37" in done.stderr.decode()
