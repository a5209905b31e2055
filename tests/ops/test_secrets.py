"""Commands that do not talk to a platform run without its secrets (issue 16, item 6)."""

from __future__ import annotations

import os
from pathlib import Path

from gateway.config import GatewayConfig
from gateway.config_load import load_config
from tests.conftest import write_config
from tests.core.helpers import palm

PLATFORMS = {
    "telegram": {"token_env": "PALM_OPS_UNSET_TG", "webhook": {"secret_env": "PALM_OPS_UNSET_WH"}},
    "matrix": {
        "homeserver": "http://127.0.0.1:9",
        "user_id": "@palm:localhost",
        "access_token_env": "PALM_OPS_UNSET_MX",
    },
}


def _cfg(tmp_path: Path, config: GatewayConfig) -> Path:
    return write_config(tmp_path / "palm.yaml", config, platforms=PLATFORMS)


def _env() -> dict[str, str]:
    for name in ("PALM_OPS_UNSET_TG", "PALM_OPS_UNSET_WH", "PALM_OPS_UNSET_MX"):
        assert name not in os.environ
    return {}


def test_redis_only_commands_need_no_platform_secret(tmp_path: Path, config: GatewayConfig) -> None:
    cfg = _cfg(tmp_path, config)
    for args in (
        ["tickets", "list", "--json"],
        ["queue", "stats", "--json"],
        ["targets", "list", "--json"],
        ["announcements", "list", "--json"],
    ):
        done = palm("-c", str(cfg), *args, env=_env())
        assert done.returncode == 0, (args, done.stderr)


def test_run_and_platform_commands_still_need_them(tmp_path: Path, config: GatewayConfig) -> None:
    cfg = _cfg(tmp_path, config)
    expected = (
        f"palm: {cfg}: platforms.telegram.webhook.secret_env: "
        "environment variable PALM_OPS_UNSET_WH is not set"
    )
    for args in (
        ["run"],
        ["telegram", "set-webhook", "https://x.example/hook"],
        ["announcements", "recall", "A-1"],
    ):
        done = palm("-c", str(cfg), *args, env=_env())
        assert done.returncode == 2, (args, done.stderr)
        assert done.stderr.startswith(expected), done.stderr  # "(and 1 more)": matrix
    no_hook = dict(PLATFORMS["telegram"])
    del no_hook["webhook"]
    cfg = write_config(tmp_path / "t.yaml", config, platforms={"telegram": no_hook})
    done = palm("-c", str(cfg), "run", env=_env())
    assert done.stderr.strip() == (
        f"palm: {cfg}: platforms.telegram.token_env: environment variable PALM_OPS_UNSET_TG "
        "is not set"
    )


def test_matrix_secret_is_checked_for_run(tmp_path: Path, config: GatewayConfig) -> None:
    cfg = write_config(tmp_path / "m.yaml", config, platforms={"matrix": PLATFORMS["matrix"]})
    done = palm("-c", str(cfg), "run", env=_env())
    assert done.returncode == 2
    assert "platforms.matrix.access_token_env: environment variable PALM_OPS_UNSET_MX" in (
        done.stderr
    )


def test_load_without_secrets_leaves_them_unset(tmp_path: Path, config: GatewayConfig) -> None:
    loaded = load_config(_cfg(tmp_path, config), secrets=frozenset())
    assert loaded.platforms.telegram is not None
    assert loaded.platforms.telegram.token is None
    assert loaded.platforms.matrix is not None
    assert loaded.platforms.matrix.access_token is None
