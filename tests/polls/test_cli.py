"""``palm poll`` as real subprocesses on the test Redis: bad input is one line and exit 1,
``--as-user`` sees and acts only within its scope."""

from __future__ import annotations

from pathlib import Path

import pytest

from gateway.accounts import Role, UserStore
from gateway.config import GatewayConfig
from gateway.runtime import Runtime
from tests.accounts.test_cli import palm
from tests.conftest import write_config
from tests.outbox.helpers import seed


@pytest.fixture
def cfg(config: GatewayConfig, tmp_path: Path) -> Path:
    return write_config(tmp_path / "palm.yaml", config)


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["create", "Q?", "--option", "a", "--to", "building:5"], "2 to 10 options"),
        (["create", "Q?", "--option", "a", "--option", "a", "--to", "building:5"], "the same"),
        (
            [
                "create",
                "Q?",
                "--option",
                "a",
                "--option",
                "b",
                "--to",
                "building:5",
                "--closes",
                "2020-01-01T00:00",
            ],
            "in the past",
        ),
        (["create", "Q?", "--option", "a", "--option", "b", "--to", "building:("], "column"),
        (["show", "P-99"], "no poll P-99"),
        (["close", "soon"], "not a poll id"),
    ],
)
async def test_bad_input_is_one_line(
    cfg: Path, runtime: Runtime, args: list[str], says: str
) -> None:
    await seed(runtime, {"telegram:-5": ["building:5"]})
    code, out, err = await palm(cfg, "poll", *args)
    assert code == 1, (out, err)
    assert err.count("\n") == 1
    assert says in err
    assert "Traceback" not in err


async def test_as_user_sees_and_closes_only_in_scope(cfg: Path, runtime: Runtime) -> None:
    await seed(runtime, {"telegram:-5": ["building:5"], "telegram:-6": ["building:6"]})
    users = UserStore(runtime.redis, runtime.keys)
    await users.create("six", Role.STAFF, "a long enough password", "building:6")
    code, out, err = await palm(cfg, "poll", "create", "Q?", "--option", "a", "--option", "b",
                                "--to", "*")  # fmt: skip
    assert code == 0, err
    poll_id = out.strip()
    code, out, err = await palm(cfg, "poll", "create", "Q?", "--option", "a", "--option", "b",
                                "--to", "*", "--as-user", "six")  # fmt: skip
    assert code != 0
    assert "telegram:-5" in err
    code, out, _ = await palm(cfg, "poll", "list", "--as-user", "six", "--json")
    assert code == 0
    assert poll_id in out
    code, _, err = await palm(cfg, "poll", "close", poll_id, "--as-user", "six")
    assert code != 0
    assert "telegram:-5" in err
    code, out, err = await palm(cfg, "poll", "close", poll_id)
    assert code == 0, err
    assert f"{poll_id} closed" in out
