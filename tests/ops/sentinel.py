"""A Redis primary, a replica and three sentinels on loopback, for the failover tests."""

from __future__ import annotations

import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from redis import Redis

from tests.conftest import redis_server_binary
from tests.core.helpers import free_port

SERVICE = "palmtest"


class Node:
    def __init__(self, workdir: Path, args: list[str], port: int) -> None:
        self.dir = workdir
        self.args = args
        self.port = port
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.dir.mkdir(parents=True, exist_ok=True)
        # Each node's log stays beside its data (node.log), for a failover that went wrong.
        with open(self.dir / "node.log", "ab") as log:
            self.proc = subprocess.Popen(
                self.args, stdout=log, stderr=subprocess.STDOUT, cwd=self.dir
            )
        deadline = time.monotonic() + 15
        while True:
            try:
                if Redis(port=self.port, socket_timeout=0.5).ping():
                    return
            except OSError:
                pass
            except Exception:  # redis-py's ConnectionError and friends
                pass
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"{self.args[0]} on {self.port} did not start")
            time.sleep(0.05)

    def kill9(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(5)


class SentinelSetup:
    """Primary + replica (AOF everysec) and three sentinels (quorum 2, down after 1 s)."""

    def __init__(self, workdir: Path) -> None:
        self.dir = workdir
        server = redis_server_binary()
        self.ports = [free_port(), free_port()]

        def data_node(i: int, extra: list[str]) -> Node:
            port = self.ports[i]
            args = [server, "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                    "--appendonly", "yes", "--appendfsync", "everysec",
                    "--dir", str(workdir / f"redis{i}"), *extra]  # fmt: skip
            return Node(workdir / f"redis{i}", args, port)

        self.primary = data_node(0, [])
        self.replica = data_node(1, ["--replicaof", "127.0.0.1", str(self.ports[0])])
        self.sentinels: list[Node] = []
        binary = shutil.which("redis-sentinel") or server
        for i in range(3):
            port = free_port()
            conf = workdir / f"sentinel{i}" / "sentinel.conf"
            conf.parent.mkdir(parents=True, exist_ok=True)
            conf.write_text(
                f"port {port}\nbind 127.0.0.1\ndir {conf.parent}\n"
                f"sentinel monitor {SERVICE} 127.0.0.1 {self.ports[0]} 2\n"
                f"sentinel down-after-milliseconds {SERVICE} 1000\n"
                f"sentinel failover-timeout {SERVICE} 5000\n"
                f"sentinel parallel-syncs {SERVICE} 1\n"
            )
            args = [binary, str(conf)] + ([] if binary.endswith("sentinel") else ["--sentinel"])
            self.sentinels.append(Node(conf.parent, args, port))

    @property
    def nodes(self) -> list[str]:
        return [f"127.0.0.1:{s.port}" for s in self.sentinels]

    def start(self) -> None:
        self.primary.start()
        self.replica.start()
        for s in self.sentinels:
            s.start()
        self.wait_for(lambda: self.replicated() and self.master_port() == self.ports[0])

    def _ask(self, *command: str) -> Iterator[Any]:
        """The answer of every sentinel that answers, in order."""
        for s in self.sentinels:
            try:
                yield Redis(port=s.port, socket_timeout=1).execute_command(*command)
            except Exception:  # a sentinel mid-restart: ask the next
                continue

    def master_port(self) -> int | None:
        for addr in self._ask("SENTINEL", "get-master-addr-by-name", SERVICE):
            if addr:
                return int(addr[1])
        return None

    def failovers(self) -> int:
        """How many failovers the sentinels completed: the highest ``config-epoch``."""
        # Sent raw, SENTINEL MASTER comes back as a dict with bytes keys
        answers = self._ask("SENTINEL", "MASTER", SERVICE)
        return max([0, *(int(m.get(b"config-epoch", m.get("config-epoch", 0))) for m in answers)])

    def replicated(self) -> bool:
        try:
            info = Redis(port=self.replica.port, socket_timeout=1).info("replication")
        except Exception:
            return False
        return bool(info.get("master_link_status") == "up")

    def wait_for(self, check: object, limit: float = 60) -> None:
        deadline = time.monotonic() + limit
        while time.monotonic() < deadline:
            if check():  # type: ignore[operator]
                return
            time.sleep(0.1)
        raise AssertionError("the sentinel setup did not get there in time")

    def stop(self) -> None:
        for node in [*self.sentinels, self.replica, self.primary]:
            node.stop()
