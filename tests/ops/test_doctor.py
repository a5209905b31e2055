"""`palm doctor`: every failure line, as an operator sees it (and the ok lines)."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from redis.asyncio import Redis

from gateway.config import GatewayConfig
from gateway.ops.doctor import (
    check_disk,
    check_staff_rooms,
    clock_finding,
    redis_persistence,
)
from gateway.runtime import Runtime
from gateway.staffroom.config import StaffRoomConfig
from tests.conftest import write_config
from tests.core.helpers import PALM, REPO, free_port
from tests.e2e.conftest import fake_tg
from tests.fakes.synapse import Synapse, User
from tests.fakes.telegram_api import FakeTelegram
from tests.faults.conftest import OwnRedis, own_redis
from tests.matrix.conftest import admin, new_user, synapse

__all__ = ["admin", "fake_tg", "new_user", "own_redis", "synapse"]


async def doctor(cfg: Path, env: dict[str, str] | None = None) -> tuple[int, list[str]]:
    import asyncio
    import subprocess

    proc = await asyncio.create_subprocess_exec(
        *PALM, "-c", str(cfg), "doctor", cwd=REPO, env={**os.environ, **(env or {})},
        stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    assert not err.strip(), err.decode()
    assert proc.returncode is not None
    return proc.returncode, out.decode().splitlines()


def line(lines: list[str], check: str) -> str:
    found = [x for x in lines if x[6:].startswith(check + ":")]
    assert found, f"no {check!r} line in:\n" + "\n".join(lines)
    return found[0]


def telegram(fake: FakeTelegram, **extra: Any) -> dict[str, Any]:
    return {"token_env": "PALM_DOC_TG", "base_url": fake.base_url, **extra}


async def test_all_well_but_privacy_mode(
    tmp_path: Path, config: GatewayConfig, fake_tg: FakeTelegram
) -> None:
    cfg = write_config(tmp_path / "p.yaml", config, platforms={"telegram": telegram(fake_tg)})
    code, lines = await doctor(cfg, {"PALM_DOC_TG": fake_tg.token})
    assert line(lines, "config").startswith("ok")
    assert line(lines, "redis").startswith("ok    redis: answers")
    assert line(lines, "clock").startswith("ok")
    assert line(lines, "staff rooms") == "ok    staff rooms: none configured"
    assert line(lines, "telegram") == "ok    telegram: signed in as @palm_test_bot (id 123456789)"
    assert line(lines, "telegram webhook") == "ok    telegram webhook: none set (polling mode)"
    privacy = line(lines, "telegram privacy")
    assert privacy.startswith("warn  telegram privacy: privacy mode is on for @palm_test_bot")
    assert "`/报修`" in privacy
    assert "/setprivacy to @BotFather" in privacy
    assert line(lines, "disk").startswith("ok")
    assert code == 0, lines  # warnings do not fail


async def test_config_token_and_webhook_failures(
    tmp_path: Path, config: GatewayConfig, fake_tg: FakeTelegram
) -> None:
    cfg = write_config(tmp_path / "p.yaml", config, platforms={"telegram": telegram(fake_tg)})
    code, lines = await doctor(cfg, {"PALM_DOC_TG": ""})
    assert code == 1
    assert line(lines, "config") == (
        f"FAIL  config: {cfg}: platforms.telegram.token_env: environment variable PALM_DOC_TG "
        "is not set — fix: see config/palm.example.yaml"
    )
    assert line(lines, "telegram").startswith("FAIL  telegram: no token")

    code, lines = await doctor(cfg, {"PALM_DOC_TG": "999:unknown-token-abcdefghijklmnop"})
    assert line(lines, "telegram") == (
        "FAIL  telegram: getMe: the token was rejected — fix: copy the token from @BotFather "
        "into the token_env variable"
    )

    fake_tg.bot.webhook_url = "https://old.example/hook"
    code, lines = await doctor(cfg, {"PALM_DOC_TG": fake_tg.token})
    assert code == 1
    assert line(lines, "telegram webhook").startswith(
        "FAIL  telegram webhook: a webhook is set (https://old.example/hook) but palm polls"
    )

    hooked = telegram(fake_tg, mode="webhook", webhook={"secret_env": "PALM_DOC_TG"})
    cfg = write_config(tmp_path / "w.yaml", config, platforms={"telegram": hooked})
    code, lines = await doctor(cfg, {"PALM_DOC_TG": fake_tg.token})
    assert line(lines, "telegram webhook") == (
        "FAIL  telegram webhook: set to https://old.example/hook, which is not palm's path "
        "/telegram/webhook — fix: palm telegram set-webhook https://YOUR.HOST/telegram/webhook"
    )
    fake_tg.bot.webhook_url = ""
    code, lines = await doctor(cfg, {"PALM_DOC_TG": fake_tg.token})
    assert line(lines, "telegram webhook").startswith(
        "FAIL  telegram webhook: mode: webhook but no webhook is set"
    )


async def test_redis_failures(tmp_path: Path, config: GatewayConfig, own_redis: OwnRedis) -> None:
    client = Redis.from_url(own_redis.url, decode_responses=True)
    await client.config_set("appendonly", "no")
    await client.config_set("maxmemory-policy", "allkeys-lru")
    await client.aclose()
    redis_cfg = config.redis.model_copy(update={"url": own_redis.url})
    cfg = write_config(tmp_path / "r.yaml", config.model_copy(update={"redis": redis_cfg}))
    code, lines = await doctor(cfg)
    assert code == 0
    assert line(lines, "redis persistence").startswith("warn  redis persistence: AOF is off")
    assert line(lines, "redis memory").startswith(
        "warn  redis memory: maxmemory-policy allkeys-lru can evict palm's keys"
    )

    gone = config.redis.model_copy(update={"url": f"redis://127.0.0.1:{free_port()}/0"})
    cfg = write_config(tmp_path / "g.yaml", config.model_copy(update={"redis": gone}))
    code, lines = await doctor(cfg)
    assert code == 1
    assert line(lines, "redis").startswith("FAIL  redis: redis at redis://127.0.0.1:")
    assert line(lines, "disk").startswith("ok")


@pytest.mark.synapse
async def test_matrix_lines(
    tmp_path: Path, config: GatewayConfig, synapse: Synapse, new_user: Callable[..., Any]
) -> None:
    bot: User = await new_user("palmbot")
    matrix = {"homeserver": synapse.url, "user_id": bot.user_id, "access_token_env": "PALM_MX"}
    cfg = write_config(tmp_path / "m.yaml", config, platforms={"matrix": matrix})
    code, lines = await doctor(cfg, {"PALM_MX": bot.token})
    assert line(lines, "matrix") == f"ok    matrix: signed in as {bot.user_id} on {synapse.url}"
    code, lines = await doctor(cfg, {"PALM_MX": "syt_not_a_token"})
    assert code == 1
    assert line(lines, "matrix").startswith(
        "FAIL  matrix: whoami: M_UNKNOWN_TOKEN Invalid access token passed. — fix: make a new"
    )


def test_clock_disk_and_persistence_lines(tmp_path: Path) -> None:
    assert (
        clock_finding(1000.0, 1005.5)
        .line()
        .startswith("FAIL  clock: this host is -5.5 s off the Redis server's clock")
    )
    assert clock_finding(1000.0, 1000.5).line() == "ok    clock: within 0.50 s of the Redis server"
    low = check_disk(tmp_path / "var", min_free=1 << 60, min_free_fail=1 << 59).line()
    assert low.startswith("FAIL  disk: ")
    assert low.endswith("— fix: free space: the embedded Redis's AOF needs room to grow")
    assert check_disk(tmp_path, min_free=1 << 60, min_free_fail=0).line().startswith("warn")
    evicting = redis_persistence({"appendonly": "yes", "maxmemory-policy": "volatile-lru"})
    assert [f.level.value for f in evicting] == ["ok", "warn"]


async def test_staff_room_line(runtime: Runtime) -> None:
    config = runtime.config.model_copy(
        update={"staff_rooms": [StaffRoomConfig(target="telegram:-100999")]}
    )
    rt = Runtime(config, runtime.redis, runtime.redis_bytes, runtime.keys, "x")
    found = await check_staff_rooms(rt)
    assert found.line() == (
        "FAIL  staff rooms: telegram:-100999: the bot is not in it — fix: add the bot to each "
        "staff room (Telegram group / Matrix invite)"
    )
