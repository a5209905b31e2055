"""Revoke and expiry hold at once on another palm process: a real ``palm run`` on the
same Redis, while the token is created and revoked by separate ``palm`` commands."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from gateway.config import GatewayConfig
from tests.conftest import write_config
from tests.core.helpers import free_port, http_get, palm, start_palm, wait_http


@pytest.fixture
def server(config: GatewayConfig, tmp_path: Path) -> Iterator[tuple[Path, str]]:
    port = free_port()
    cfg = write_config(tmp_path / "palm.yaml", config, http={"listen": f"127.0.0.1:{port}"})
    log = tmp_path / "palm.log"
    proc = start_palm(cfg, log)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_http(base + "/healthz", proc, log)
        yield cfg, base
    finally:
        proc.terminate()
        proc.wait(15)


def test_revoke_holds_on_the_running_palm_at_once(
    server: tuple[Path, str],
    redis: object,  # ``redis``: deletes the test's keys afterwards
) -> None:
    cfg, base = server
    made = palm("-c", str(cfg), "tokens", "create", "ops", "--role", "viewer")
    assert made.returncode == 0, made.stderr
    token = made.stdout.strip()
    assert http_get(base + "/api/v1/whoami", token)[0] == 200
    revoked = palm("-c", str(cfg), "tokens", "revoke", "ops")
    assert revoked.returncode == 0, revoked.stderr
    # The revoking command has exited: the very next request must already fail.
    assert http_get(base + "/api/v1/whoami", token)[0] == 401
    listed = palm("-c", str(cfg), "tokens", "list", "--json")
    assert listed.stdout.strip() == "[]"


def test_expiry_holds_on_the_running_palm_at_once(server: tuple[Path, str], redis: object) -> None:
    cfg, base = server
    made = palm("-c", str(cfg), "tokens", "create", "brief", "--role", "viewer", "--expires", "3s")
    assert made.returncode == 0, made.stderr
    token = made.stdout.strip()
    created = time.time()
    assert http_get(base + "/api/v1/whoami", token)[0] == 200
    # The token's clock started inside the command, before ``created``: once
    # ``created + 3`` has passed it has expired, and the very next request must say so.
    time.sleep(max(0.0, created + 3.0 - time.time()))
    status, body = http_get(base + "/api/v1/whoami", token)
    assert status == 401
    assert b"expired" in body
