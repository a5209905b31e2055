"""A small asyncio TCP fault proxy in front of a real Redis.

It forwards RESP both ways and understands just enough of it to pair each reply
with its command, so a test can script the nastiest Redis failure: the command was
applied, but its reply never arrives (the client cannot tell whether it ran)::

    async with RedisFaultProxy("127.0.0.1", 6379) as proxy:
        proxy.drop_reply("EVALSHA", every=5)   # every 5th EVALSHA: applied, reply lost
        redis = Redis.from_url(proxy.url)
        ...
        proxy.cut()        # drop every connection and refuse new ones (Redis "gone")
        proxy.restore()    # accept again

``drop_reply``: when the reply of a matching command comes back from Redis, the proxy
closes both sides instead of forwarding it (and forwards nothing after it on that
connection). ``dropped`` counts those; ``commands`` counts every command forwarded.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from dataclasses import dataclass, field

__all__ = ["RedisFaultProxy", "reply_length"]


def _line_end(buf: bytes | bytearray, start: int) -> int:
    end = buf.find(b"\r\n", start)
    if end < 0:
        raise IndexError
    return end


def reply_length(buf: bytes | bytearray, start: int = 0) -> int | None:
    """Bytes of the first complete RESP2/3 value in ``buf[start:]``; None if incomplete."""
    try:
        return _value_end(buf, start) - start
    except IndexError:
        return None


def _value_end(buf: bytes | bytearray, pos: int) -> int:
    if pos >= len(buf):
        raise IndexError
    kind = buf[pos : pos + 1]
    end = _line_end(buf, pos)
    head = bytes(buf[pos + 1 : end])
    after = end + 2
    if kind in (b"+", b"-", b":", b",", b"_", b"#", b"("):
        return after
    if kind in (b"$", b"=", b"!"):
        n = int(head)
        if n < 0:
            return after
        if len(buf) < after + n + 2:
            raise IndexError
        return after + n + 2
    if kind in (b"*", b"~", b">", b"%", b"|"):
        n = int(head)
        if kind in (b"%", b"|"):
            n *= 2
        pos = after
        for _ in range(max(0, n)):
            pos = _value_end(buf, pos)
        return pos
    raise ValueError(f"not RESP: {bytes(buf[pos : pos + 20])!r}")


def _command_name(buf: bytes | bytearray, start: int, end: int) -> str:
    """The command word of one RESP array request (inline commands: the first word)."""
    chunk = bytes(buf[start:end])
    if chunk.startswith(b"*"):
        parts = chunk.split(b"\r\n")
        return parts[2].decode(errors="replace").upper() if len(parts) > 2 else ""
    return chunk.split(maxsplit=1)[0].decode(errors="replace").upper() if chunk.strip() else ""


@dataclass
class _Rule:
    command: str | None
    every: int
    times: int | None
    seen: int = 0

    def hit(self, name: str) -> bool:
        if self.times is not None and self.times <= 0:
            return False
        if self.command is not None and name != self.command:
            return False
        self.seen += 1
        if self.seen % self.every:
            return False
        if self.times is not None:
            self.times -= 1
        return True


@dataclass(eq=False)
class _Conn:
    client: asyncio.StreamWriter
    upstream: asyncio.StreamWriter
    pending: deque[tuple[str, bool]] = field(default_factory=deque)
    """Commands forwarded and not yet answered: (name, drop its reply)."""


class RedisFaultProxy:
    def __init__(self, host: str, port: int) -> None:
        self._host, self._port = host, port
        self._server: asyncio.Server | None = None
        self._conns: set[_Conn] = set()
        self._rules: list[_Rule] = []
        self._down = False
        self.port = 0
        self.commands = 0
        self.dropped = 0
        self.dropped_names: list[str] = []

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    async def __aenter__(self) -> RedisFaultProxy:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", self.port)
        self.port = int(self._server.sockets[0].getsockname()[1])
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.cut()
        if self._server is not None:
            self._server.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 2)

    # --- faults -----------------------------------------------------------------
    def drop_reply(
        self, command: str | None = None, *, every: int = 1, times: int | None = None
    ) -> None:
        """Lose the reply of every ``every``-th matching command (applied by Redis)."""
        self._rules.append(_Rule(command.upper() if command else None, every, times))

    def clear(self) -> None:
        self._rules.clear()

    def cut(self) -> None:
        """Close every connection and refuse new ones until ``restore``."""
        self._down = True
        for conn in list(self._conns):
            self._close(conn)

    def restore(self) -> None:
        self._down = False

    # --- plumbing ---------------------------------------------------------------
    def _close(self, conn: _Conn) -> None:
        self._conns.discard(conn)
        for w in (conn.client, conn.upstream):
            with contextlib.suppress(Exception):
                w.transport.abort()

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self._down:
            writer.transport.abort()
            return
        try:
            up_reader, up_writer = await asyncio.open_connection(self._host, self._port)
        except OSError:
            writer.transport.abort()
            return
        conn = _Conn(writer, up_writer)
        self._conns.add(conn)
        with contextlib.suppress(Exception):
            await asyncio.gather(self._requests(reader, conn), self._replies(up_reader, conn))
        self._close(conn)

    async def _requests(self, reader: asyncio.StreamReader, conn: _Conn) -> None:
        buf = bytearray()
        while data := await reader.read(65536):
            buf += data
            pos = 0
            while True:
                n = reply_length(buf, pos) if buf[pos : pos + 1] == b"*" else _inline(buf, pos)
                if n is None:
                    break
                name = _command_name(buf, pos, pos + n)
                drop = any(rule.hit(name) for rule in self._rules)
                conn.pending.append((name, drop))
                self.commands += 1
                pos += n
            if pos:
                conn.upstream.write(bytes(buf[:pos]))
                del buf[:pos]
                await conn.upstream.drain()
        raise ConnectionError("client closed")

    async def _replies(self, reader: asyncio.StreamReader, conn: _Conn) -> None:
        buf = bytearray()
        while data := await reader.read(65536):
            buf += data
            pos = 0
            while (n := reply_length(buf, pos)) is not None:
                name, drop = conn.pending.popleft() if conn.pending else ("", False)
                if drop:
                    # Forward what came before, then vanish: this reply is lost.
                    conn.client.write(bytes(buf[:pos]))
                    with contextlib.suppress(Exception):
                        await conn.client.drain()
                    self.dropped += 1
                    self.dropped_names.append(name)
                    self._close(conn)
                    return
                pos += n
            if pos:
                conn.client.write(bytes(buf[:pos]))
                del buf[:pos]
                await conn.client.drain()
        raise ConnectionError("redis closed")


def _inline(buf: bytes | bytearray, pos: int) -> int | None:
    end = buf.find(b"\r\n", pos)
    return None if end < 0 else end + 2 - pos
