"""``palm announce``, ``palm announcements`` and ``palm targets`` as subprocesses.

The delivery workers run in the test process with the in-memory adapter; the ``palm``
subprocess talks to the same Redis and key prefix, as it would to a ``palm run``.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from gateway.config import GatewayConfig
from gateway.errors import Rejected
from gateway.models import Platform
from gateway.runtime import Runtime
from tests.conftest import write_config
from tests.fakes.memory_adapter import MemoryAdapter
from tests.outbox.helpers import seed, with_outbox, workers

ROOT = Path(__file__).resolve().parents[2]
PALM = str(ROOT / ".venv" / "bin" / "palm")


@pytest.fixture
async def rt(runtime: Runtime) -> Runtime:
    rt = with_outbox(runtime)
    rt.adapters["telegram"] = MemoryAdapter(platform=Platform("telegram"))
    await seed(rt, {"telegram:-5": ["building:5"], "telegram:-6": ["building:5", "pool"]})
    return rt


@pytest.fixture
def cfg(config: GatewayConfig, tmp_path: Path) -> Path:
    return write_config(tmp_path / "palm.yaml", config)


async def palm(cfg: Path, *args: str) -> tuple[int, str, str]:
    proc = await asyncio.create_subprocess_exec(
        PALM, "-c", str(cfg), *args, cwd=ROOT,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    async with asyncio.timeout(40):
        out, err = await proc.communicate()
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


async def test_announce_waits_and_exits_0_when_all_sent(rt: Runtime, cfg: Path) -> None:
    async with workers(rt):
        code, out, err = await palm(cfg, "announce", "Tank cleaning Tue", "--to", "building:5")
    assert code == 0, err
    ann_id = out.splitlines()[0]
    assert ann_id.startswith("A-")
    assert f"{ann_id}: 2 sent, 0 failed" in out
    code, out, _ = await palm(cfg, "announcements", "show", ann_id, "--json")
    assert code == 0
    shown = json.loads(out)
    assert shown["counts"] == {"sent": 2}
    assert shown["status"] == "done"


async def test_announce_exits_3_and_lists_failures(rt: Runtime, cfg: Path) -> None:
    adapter = rt.adapters["telegram"]
    assert isinstance(adapter, MemoryAdapter)
    adapter.fail_always("telegram:-6", Rejected("message is too long"))
    async with workers(rt):
        code, out, err = await palm(cfg, "announce", "hello", "--to", "building:5")
    assert code == 3
    assert "telegram:-6" in out
    assert "message is too long" in out
    assert "1 of 2 deliveries failed" in err


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["announce", "x", "--to", "building:5 &"], 1, "expected a tag after '&' at column 13"),
        (["announce", "x", "--to", "nobody"], 1, "matches no active target"),
        (["announce", "x", "--to", "*", "--at", "soon"], 1, "expected ISO 8601"),
        (["announce", "x", "--to", "*", "--attach", "/nonexistent.png"], 1, "no such file"),
        (["announce", "x"], 2, "--to"),
        (["announcements", "show", "A-404"], 1, "no announcement A-404"),
        (["announcements", "show", "17"], 1, "not an announcement id"),
        (["targets", "tag", "telegram:404", "x"], 1, "no target telegram:404"),
        (["targets", "tag", "nocolon", "x"], 1, "not of the form platform:chat"),
        (["targets", "tag", "telegram:-5", "a&b"], 1, "cannot contain &"),
    ],
)
async def test_bad_input_is_one_line(
    rt: Runtime, cfg: Path, args: list[str], code: int, message: str
) -> None:
    got, out, err = await palm(cfg, *args)
    assert got == code
    assert message in err
    assert len(err.strip().splitlines()) == 1, err
    assert "Traceback" not in err + out


async def test_no_wait_idempotency_and_schedule(rt: Runtime, cfg: Path) -> None:
    args = ["announce", "once", "--to", "pool", "--no-wait", "--idempotency-key", "k"]
    code, first, _ = await palm(cfg, *args)
    assert code == 0
    code, again, err = await palm(cfg, *args)
    assert code == 0
    assert first.splitlines()[0] == again.splitlines()[0]
    assert "already exists" in err
    code, out, err = await palm(cfg, "announce", "later", "--to", "*", "--at", "2099-01-01T09:00")
    assert code == 0
    assert "scheduled for 2099-01-01" in err
    code, out, _ = await palm(cfg, "announcements", "list", "--json")
    assert [a["status"] for a in json.loads(out)] == ["scheduled", "sending"]


async def test_targets_list_tag_untag(rt: Runtime, cfg: Path) -> None:
    code, out, _ = await palm(cfg, "targets", "tag", "telegram:-5", "pool", "north")
    assert code == 0
    code, out, _ = await palm(cfg, "targets", "list", "--tag", "pool", "--json")
    assert [t["id"] for t in json.loads(out)] == ["telegram:-5", "telegram:-6"]
    code, out, _ = await palm(cfg, "targets", "untag", "telegram:-5", "pool")
    assert code == 0
    code, out, _ = await palm(cfg, "targets", "list")
    assert code == 0
    assert "telegram:-6" in out
    assert "2 targets" in out
