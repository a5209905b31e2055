"""palm tickets / queue as subprocesses: output, --json, exit codes, one-line errors."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

from gateway.config import GatewayConfig
from gateway.runtime import Runtime
from tests.conftest import write_config
from tests.tickets.conftest import make_tickets

ROOT = Path(__file__).resolve().parents[2]


def palm(cfg: Path, *args: str, staff: str = "zhou") -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PALM_STAFF_NAME": staff, "COLUMNS": "200"}
    return subprocess.run(
        [str(ROOT / ".venv/bin/palm"), "-c", str(cfg), *args],
        capture_output=True, text=True, timeout=30, env=env,
    )  # fmt: skip


async def test_work_a_ticket_from_the_cli(
    runtime: Runtime, config: GatewayConfig, tmp_path: Path
) -> None:
    await make_tickets(runtime, ["noise", "5号楼消防栓坏了"])
    cfg = write_config(tmp_path / "palm.yaml", config)
    listed = palm(cfg, "tickets", "list", "--json")
    assert listed.returncode == 0, listed.stderr
    assert [t["id"] for t in json.loads(listed.stdout)["tickets"]] == ["T-2", "T-1"]
    table = palm(cfg, "tickets", "list")
    assert "T-2" in table.stdout
    assert "urgent" in table.stdout

    assert palm(cfg, "tickets", "claim", "T-2").returncode == 0
    taken = palm(cfg, "tickets", "claim", "T-2", "--as", "qian")
    assert taken.returncode == 1
    assert taken.stderr.strip() == "palm: T-2 is claimed by zhou; use --force to take it over"
    assert palm(cfg, "tickets", "claim", "T-2", "--as", "qian", "--force").returncode == 0

    replied = palm(cfg, "tickets", "reply", "T-2", "Received, the water company is on the way.")
    assert replied.returncode == 0, replied.stderr
    resolved = palm(cfg, "tickets", "resolve", "T-2", "--note", "valve replaced")
    assert resolved.returncode == 0, resolved.stderr
    shown = json.loads(palm(cfg, "tickets", "show", "T-2", "--json").stdout)
    assert shown["status"] == "resolved"
    assert shown["note"] == "valve replaced"
    assert [(h["action"], h["actor"]) for h in shown["history"]] == [
        ("created", "resident"),
        ("claimed", "zhou"),
        ("claimed", "qian"),
        ("replied", "zhou"),
        ("resolved", "zhou"),
    ]
    text = palm(cfg, "tickets", "show", "T-2")
    assert "Received, the water company" in text.stdout

    stats = json.loads(palm(cfg, "queue", "stats", "--json").stdout)
    assert stats["by_status"] == {"new": 1, "claimed": 0, "resolved": 1}
    assert palm(cfg, "queue", "stats").returncode == 0


async def test_cli_errors_are_one_line(
    runtime: Runtime, config: GatewayConfig, tmp_path: Path
) -> None:
    await make_tickets(runtime, ["x"])
    cfg = write_config(tmp_path / "palm.yaml", config)
    for args, code, expected in [
        (("tickets", "show", "T-99"), 1, "palm: no ticket T-99"),
        (("tickets", "claim", "banana"), 1, "palm: 'banana' is not a ticket id like T-42"),
        (("tickets", "reply", "T-1", "  "), 1, "palm: the reply is empty"),
        (("tickets", "list", "--status", "closed"), 2, None),
    ]:
        res = palm(cfg, *args)
        assert res.returncode == code, (args, res.stderr)
        assert res.stderr.count("\n") == 1, res.stderr
        if expected:
            assert res.stderr.strip() == expected
    assert palm(cfg, "tickets", "resolve", "T-1").returncode == 0
    again = palm(cfg, "tickets", "resolve", "T-1")
    assert again.returncode == 1
    assert again.stderr.strip() == "palm: T-1 is already resolved"
