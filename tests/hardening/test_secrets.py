"""Secrets at rest and in logs: private data_dir, the Redis password, log redaction."""

from __future__ import annotations

import json
import logging
import shutil
import socket
import stat
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from aiohttp.http_exceptions import BadHttpMessage
from aiohttp.test_utils import TestClient, TestServer
from redis.asyncio import Redis

from gateway.config import GatewayConfig, RedisConfig
from gateway.embedded import EmbeddedRedis
from gateway.errors import StoreUnavailable
from gateway.http.server import build_app
from gateway.logs import JsonFormatter, QuietBadRequests, TextFormatter, redact
from gateway.runtime import Runtime, open_runtime
from tests.conftest import redis_server_binary

TG_TOKEN = "123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw"
PASSWORD = "s3cret-redis-pw"


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


async def test_data_dir_and_embedded_redis_files_are_private(tmp_path: Path) -> None:
    data = tmp_path / "var"
    embedded = EmbeddedRedis(data)
    await embedded.start()
    try:
        client = Redis(unix_socket_path=str(embedded.socket))
        await client.set("k", "v")
        await client.aclose()
    finally:
        await embedded.aclose()
    assert _mode(data) == 0o700
    assert _mode(data / "redis") == 0o700
    files = [p for p in (data / "redis").rglob("*") if p.is_file()]
    assert {p.name for p in files} >= {"owner.lock", "redis.log"}
    assert any(p.suffix == ".aof" for p in files)
    for path in files:
        assert _mode(path) == 0o600, path
    for path in (p for p in (data / "redis").rglob("*") if p.is_dir()):
        assert _mode(path) == 0o700, path


async def test_files_an_older_palm_left_loose_are_tightened(tmp_path: Path) -> None:
    data = tmp_path / "var"
    (data / "redis").mkdir(parents=True, mode=0o755)
    data.chmod(0o755)
    old = data / "redis" / "redis.log"
    old.write_text("old log\n")
    old.chmod(0o644)
    embedded = EmbeddedRedis(data)
    await embedded.start()
    await embedded.aclose()
    assert (_mode(data), _mode(data / "redis"), _mode(old)) == (0o700, 0o700, 0o600)


async def test_a_shared_sticky_data_dir_is_not_chmodded(tmp_path: Path) -> None:
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o1777)
    embedded = EmbeddedRedis(shared)
    await embedded.start()
    await embedded.aclose()
    assert _mode(shared) == 0o1777
    assert _mode(shared / "redis") == 0o700


def test_the_redis_password_leaves_the_url_and_is_masked() -> None:
    for url, rest in [
        (f"redis://:{PASSWORD}@127.0.0.1:6379/0", "redis://127.0.0.1:6379/0"),
        (f"redis://palm:{PASSWORD}@db.example:6380/2", "redis://palm@db.example:6380/2"),
        (f"unix:///run/redis.sock?db=1&password={PASSWORD}", "unix:///run/redis.sock?db=1"),
    ]:
        cfg = RedisConfig(url=url)
        assert cfg.url == rest
        assert cfg.password is not None
        assert cfg.password.get_secret_value() == PASSWORD
        assert PASSWORD not in repr(cfg)
        assert PASSWORD not in str(GatewayConfig(redis=cfg))
    assert RedisConfig(url="redis://127.0.0.1:6379/0").password is None
    with pytest.raises(ValueError, match="not both"):
        RedisConfig(url=f"redis://:{PASSWORD}@h", password="other")


@pytest.fixture
def protected_redis() -> Iterator[str]:
    """A redis-server that needs a password (``requirepass``), on a free port."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    workdir = tempfile.mkdtemp(prefix="palm-pw-redis-")
    proc = subprocess.Popen(
        [redis_server_binary(), "--port", str(port), "--bind", "127.0.0.1", "--save", "",
         "--appendonly", "no", "--dir", workdir, "--requirepass", PASSWORD],
        stdout=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        yield f"127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(5)
        shutil.rmtree(workdir, ignore_errors=True)


async def test_palm_connects_with_the_password_and_never_shows_it(
    protected_redis: str, tmp_path: Path
) -> None:
    cfg = GatewayConfig(
        data_dir=tmp_path, redis=RedisConfig(url=f"redis://:{PASSWORD}@{protected_redis}/0")
    )
    async with open_runtime(cfg) as rt:
        assert await rt.redis.ping()
        assert PASSWORD not in repr(rt.redis)
    wrong = GatewayConfig(
        data_dir=tmp_path, redis=RedisConfig(url=f"redis://:wrong-pw@{protected_redis}/0")
    )
    with pytest.raises(StoreUnavailable) as caught:
        async with open_runtime(wrong):
            pass
    assert "wrong-pw" not in caught.value.message


@pytest.mark.parametrize(
    ("line", "secret"),
    [
        (f"GET https://api.telegram.org/bot{TG_TOKEN}/getMe", TG_TOKEN.split(":")[1]),
        (f"telegram token {TG_TOKEN} rejected", TG_TOKEN.split(":")[1]),
        ('{"access_token": "syt_YWxpY2U_abcdefghij_1", "device_id": "D"}', "abcdefghij"),
        ('{"user_id":"@palm:x","access_token":"opaque.value-1"}', "opaque.value-1"),
        ("{'access_token': 'from-a-repr', 'home_server': 'x'}", "from-a-repr"),
        ('"password" : "hunter2"', "hunter2"),
        ("https://m.example/_matrix?access_token=abc123&x=1", "abc123"),
        ("Authorization: Bearer palm_0123456789abcdef", "palm_0123456789abcdef"),
        ("sync failed for syt_cGFsbQ_QWERTYUIOPasdf_0x1", "QWERTYUIOP"),
    ],
)
def test_redaction(line: str, secret: str) -> None:
    assert secret not in redact(line)
    assert "***" in redact(line)


def test_redaction_keeps_ordinary_lines() -> None:
    for line in (
        "ticket T-42 claimed by zhou at 12:30",
        "matrix:!room:example.org @bob:example.org",
        "delivery A-17:telegram:-1001234567890 sent",
    ):
        assert redact(line) == line


def _record(msg: str, **extra: object) -> logging.LogRecord:
    record = logging.LogRecord("palm.test", logging.INFO, __file__, 1, msg, (), None)
    record.__dict__.update(extra)
    return record


def test_both_formatters_redact_messages_and_fields() -> None:
    login = json.dumps({"access_token": "syt_c2VjcmV0_tokenvalue_1", "user_id": "@palm:x"})
    record = _record(f"login answer {login}", body=login, tg=TG_TOKEN)
    for formatter in (TextFormatter(), JsonFormatter()):
        out = formatter.format(record)
        assert "tokenvalue" not in out
        assert TG_TOKEN.split(":")[1] not in out
    doc = json.loads(JsonFormatter().format(record))
    assert doc["event"].startswith("login answer")


def test_bad_http_requests_are_one_warning_without_traceback() -> None:
    try:
        raise BadHttpMessage("Invalid header value char")
    except BadHttpMessage:
        import sys

        record = logging.LogRecord(
            "aiohttp.server", logging.ERROR, __file__, 1,
            "Error handling request from %s", ("127.0.0.1",), sys.exc_info(),
        )  # fmt: skip
    assert QuietBadRequests().filter(record)
    assert record.levelno == logging.WARNING
    assert record.exc_info is None
    line = TextFormatter().format(record)
    assert "Traceback" not in line
    assert "bad HTTP request refused (400): Invalid header value char" in line


def test_text_log_lines_cannot_be_forged() -> None:
    record = _record("chat title %s", title="x\n2026-11-30T00:00:00 INFO palm fake \x1b[2J")
    record.args = ("evil\nINFO forged line",)
    line = TextFormatter().format(record)
    assert "\n" not in line
    assert "\x1b" not in line
    assert "evil\\x0aINFO forged line" in line


class _LeakyAdapter:
    """A platform whose readiness error quotes a request URL, token and all."""

    platform = "telegram"

    async def check_ready(self) -> str | None:
        raise OSError(f"connect failed for https://api.telegram.org/bot{TG_TOKEN}/getMe")

    def routes(self) -> tuple[()]:
        return ()


async def test_readyz_reasons_never_carry_a_token(runtime: Runtime) -> None:
    app = build_app(runtime, [_LeakyAdapter()])  # type: ignore[list-item]
    async with TestClient(TestServer(app)) as c:
        resp = await c.get("/readyz")
        body = await resp.text()
    assert resp.status == 503
    assert "connect failed" in body
    assert TG_TOKEN.split(":")[1] not in body
