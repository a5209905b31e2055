"""deploy/systemd/palm.service: the hardening the README promises, and systemd's own check."""

from __future__ import annotations

import configparser
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.core.helpers import REPO

UNIT = REPO / "deploy/systemd/palm.service"


def _service() -> configparser.SectionProxy:
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read_string(UNIT.read_text(encoding="utf-8"))
    return parser["Service"]


def test_unit_has_the_promised_settings() -> None:
    service = _service()
    assert service["Restart"] == "on-failure"
    assert service["EnvironmentFile"] == "/etc/palm/palm.env"
    assert service["ProtectSystem"] == "strict"
    assert service["ReadWritePaths"] == "/var/lib/palm"
    assert service["NoNewPrivileges"] == "true"
    assert service["ExecReload"] == "/bin/kill -HUP $MAINPID"


def test_systemd_analyze_verify(tmp_path: Path) -> None:
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        pytest.skip("systemd-analyze is not installed")
    palm = REPO / ".venv/bin/palm"
    # The unit names the install path /opt/palm; verify checks that ExecStart exists,
    # so point it at this checkout's palm and change nothing else.
    unit = tmp_path / "palm.service"
    unit.write_text(UNIT.read_text().replace("/opt/palm/.venv/bin/palm", str(palm)))
    done = subprocess.run(
        [analyze, "verify", str(unit)], capture_output=True, text=True, timeout=60, cwd=tmp_path
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "palm.service" not in done.stderr, done.stderr
