"""``palm users``, ``palm tokens`` and ``--as-user`` as real subprocesses on the test Redis."""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path

import pytest

from gateway.config import GatewayConfig
from gateway.runtime import Runtime
from tests.accounts.conftest import A5, A_ROOM, B1, Office
from tests.conftest import write_config
from tests.core.helpers import REPO

PALM = [sys.executable, "-m", "gateway.cli.main"]


@pytest.fixture
def cfg(config: GatewayConfig, tmp_path: Path) -> Path:
    return write_config(tmp_path / "palm.yaml", config)


async def palm(cfg: Path, *args: str, stdin: str | None = None) -> tuple[int, str, str]:
    proc = await asyncio.create_subprocess_exec(
        *PALM, "-c", str(cfg), *args, cwd=REPO,
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    async with asyncio.timeout(60):
        out, err = await proc.communicate(stdin.encode() if stdin is not None else b"")
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


async def test_users_lifecycle(cfg: Path, runtime: Runtime) -> None:
    code, out, err = await palm(
        cfg, "users", "create", "wang", "--role", "staff", "--scope", "compound:a",
        "--password-stdin", stdin="tank cleaning 9am\n",
    )  # fmt: skip
    assert code == 0, err
    assert "user wang created (staff, scope compound:a)" in out
    stored = await runtime.redis.hget(runtime.keys("user", "wang"), "password")
    assert stored is not None
    assert stored.startswith("$argon2id$")
    code, out, _ = await palm(cfg, "users", "list", "--json")
    assert code == 0
    (user,) = json.loads(out)
    assert (user["name"], user["role"], user["scope"], user["disabled"]) == (
        "wang", "staff", "compound:a", False,
    )  # fmt: skip
    assert "password" not in user
    assert "argon2" not in out
    # Without --password-stdin and without a terminal, one line is read from stdin.
    code, _, err = await palm(cfg, "users", "passwd", "wang", stdin="a new password\n")
    assert code == 0, err
    assert await runtime.redis.hget(runtime.keys("user", "wang"), "password") != stored
    code, out, _ = await palm(cfg, "users", "disable", "wang")
    assert code == 0
    code, out, _ = await palm(cfg, "users", "list")
    assert "disabled" in out


@pytest.mark.parametrize(
    ("args", "stdin", "says"),
    [
        (["users", "create", "li", "--role", "staff", "--password-stdin"], "short\n", "at least 8"),
        (["users", "create", "li", "--role", "staff", "--password-stdin"], "", "no password"),
        (["users", "create", "li", "--role", "staff", "--scope", "a &"], "12345678\n", "column 4"),
        (["users", "passwd", "nobody"], "12345678\n", "no user named 'nobody'"),
        (["users", "disable", "nobody"], None, "no user named 'nobody'"),
        (["tokens", "create", "t", "--role", "staff", "--expires", "soon"], None, "90d"),
        (["tokens", "create", "t", "--role", "staff", "--scope", "(a"], None, "scope: missing"),
        (["tokens", "revoke", "nobody"], None, "no token named 'nobody'"),
        (["tickets", "list", "--as-user", "nobody"], None, "no user named 'nobody'"),
    ],
)
async def test_bad_input_is_one_line_and_exit_1(
    cfg: Path, runtime: Runtime, args: list[str], stdin: str | None, says: str
) -> None:
    code, out, err = await palm(cfg, *args, stdin=stdin)
    assert code == 1, (out, err)
    assert says in err
    assert len(err.strip().splitlines()) == 1
    assert "Traceback" not in err


async def test_tokens_create_list_revoke(cfg: Path, runtime: Runtime) -> None:
    code, token, err = await palm(
        cfg, "tokens", "create", "ci", "--role", "viewer", "--scope", "compound:a",
        "--expires", "90d",
    )  # fmt: skip
    assert code == 0, err
    token = token.strip()
    assert token.startswith("palm_")
    assert "shown only once" in err
    code, out, _ = await palm(cfg, "tokens", "create", "ci", "--role", "viewer")
    assert code == 1
    code, out, _ = await palm(cfg, "tokens", "list", "--json")
    (info,) = json.loads(out)
    assert info["name"] == "ci"
    assert info["scope"] == "compound:a"
    assert 89 * 86400 < info["expires"] - info["created"] <= 90 * 86400
    assert token not in out
    code, out, _ = await palm(cfg, "tokens", "list")
    assert "ci" in out
    assert token not in out
    code, out, _ = await palm(cfg, "tokens", "revoke", "ci")
    assert code == 0
    code, out, _ = await palm(cfg, "tokens", "list", "--json")
    assert json.loads(out) == []


async def test_as_user_shows_what_that_account_sees(
    cfg: Path, runtime: Runtime, office: Office
) -> None:
    code, _, err = await palm(
        cfg, "users", "create", "wang", "--role", "staff", "--scope", "compound:a",
        "--password-stdin", stdin="tank cleaning 9am\n",
    )  # fmt: skip
    assert code == 0, err
    code, out, _ = await palm(cfg, "tickets", "list", "--json", "--as-user", "wang")
    assert {t["target"] for t in json.loads(out)["tickets"]} == {A5, A_ROOM}
    code, out, _ = await palm(cfg, "tickets", "list", "--json")
    assert {t["target"] for t in json.loads(out)["tickets"]} == {A5, A_ROOM, B1}
    code, _, err = await palm(cfg, "tickets", "show", office.tickets[B1], "--as-user", "wang")
    assert code == 1
    assert "in your scope" in err
    code, out, _ = await palm(cfg, "tickets", "show", office.tickets[A5], "--as-user", "wang")
    assert code == 0
    code, out, _ = await palm(cfg, "queue", "stats", "--json", "--as-user", "wang")
    assert json.loads(out)["depth"] == 2
    code, out, _ = await palm(cfg, "targets", "list", "--json", "--as-user", "wang")
    assert B1 not in {t["id"] for t in json.loads(out)}
    code, out, _ = await palm(cfg, "announcements", "list", "--json", "--as-user", "wang")
    assert code == 0
    assert json.loads(out) == []


async def test_announce_as_a_scoped_user(cfg: Path, runtime: Runtime, office: Office) -> None:
    for name, role in (("wang", "staff"), ("vera", "viewer")):
        code, _, err = await palm(
            cfg, "users", "create", name, "--role", role, "--scope", "compound:a",
            "--password-stdin", stdin="tank cleaning 9am\n",
        )  # fmt: skip
        assert code == 0, err
    code, out, err = await palm(cfg, "announce", "Gas off", "--to", "*", "--as-user", "wang")
    assert code == 1
    assert out == ""
    assert f"outside your scope 'compound:a': {B1}" in err
    code, _, err = await palm(cfg, "announce", "x", "--to", "compound:a", "--as-user", "vera")
    assert code == 1
    assert "vera is viewer; this needs staff" in err
    code, out, err = await palm(
        cfg, "announce", "Gas off", "--to", "compound:a", "--as-user", "wang", "--no-wait"
    )
    assert code == 0, err
    ann_id = out.split()[0]
    code, out, _ = await palm(cfg, "announcements", "show", ann_id, "--json")
    shown = json.loads(out)
    assert shown["created_by"] == "wang"
    assert {d["target"] for d in shown["deliveries"]} == {A5, A_ROOM, "telegram:77"}
