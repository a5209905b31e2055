"""A lean HTTP/1.1 POST load generator for ``bench.ingest`` (keep-alive, no client library).

Telegram's servers send the webhooks in production; in the bench the sender shares the
2 cores with palm and Redis. aiohttp's client spent about as much CPU per request as
palm's whole ingest path (0.19-0.3 ms), so the flood measured the sender as much as palm.
This one writes pre-built requests on plain asyncio streams and reads only the status
line and ``Content-Length``: a few tens of microseconds per request.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from urllib.parse import urlsplit


class Target:
    """One POST endpoint: host, port, and the request head for a body of any length."""

    def __init__(self, url: str, headers: dict[str, str]) -> None:
        parts = urlsplit(url)
        self.host = parts.hostname or "127.0.0.1"
        self.port = parts.port or 80
        lines = [f"POST {parts.path or '/'} HTTP/1.1", f"Host: {self.host}:{self.port}"]
        lines += [f"{k}: {v}" for k, v in headers.items()]
        self._head = ("\r\n".join(lines) + "\r\nContent-Length: ").encode()

    def request(self, body: bytes) -> bytes:
        return self._head + str(len(body)).encode() + b"\r\n\r\n" + body


class Conn:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    @classmethod
    async def open(cls, target: Target) -> Conn:
        return cls(*await asyncio.open_connection(target.host, target.port))

    async def post(self, request: bytes) -> int:
        """Send one request; the response's status (its body is read and dropped)."""
        self.writer.write(request)
        head = await self.reader.readuntil(b"\r\n\r\n")
        status = int(head[9:12])
        length = 0
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
        if length:
            await self.reader.readexactly(length)
        return status

    def close(self) -> None:
        self.writer.close()


async def flood(
    target: Target, requests: Sequence[bytes], concurrency: int
) -> tuple[list[float], int, float]:
    """Closed loop: ``concurrency`` connections, each sends its next request once answered.

    Returns the latencies (ms), the count of non-200 answers and the elapsed seconds."""
    conns = [await Conn.open(target) for _ in range(concurrency)]
    lat: list[float] = []
    errors = 0
    it = iter(requests)

    async def worker(conn: Conn) -> None:
        nonlocal errors
        for req in it:
            t = time.perf_counter()
            if await conn.post(req) != 200:
                errors += 1
            lat.append(1000 * (time.perf_counter() - t))

    started = time.perf_counter()
    await asyncio.gather(*(worker(c) for c in conns))
    elapsed = time.perf_counter() - started
    for c in conns:
        c.close()
    return lat, errors, elapsed


async def paced(
    target: Target, requests: Sequence[bytes], rate: float
) -> tuple[list[float], int, float]:
    """Open loop at ``rate`` requests/s; a request finding no idle connection opens one."""
    idle: list[Conn] = []
    opened: list[Conn] = []
    lat: list[float] = []
    errors = 0

    async def one(req: bytes) -> None:
        nonlocal errors
        t = time.perf_counter()
        if idle:
            conn = idle.pop()
        else:
            conn = await Conn.open(target)
            opened.append(conn)
        if await conn.post(req) != 200:
            errors += 1
        lat.append(1000 * (time.perf_counter() - t))
        idle.append(conn)

    for _ in range(4):  # warm connections, so the first requests do not pay the connect
        conn = await Conn.open(target)
        opened.append(conn)
        idle.append(conn)
    tasks = []
    started = time.perf_counter()
    for i, req in enumerate(requests):
        delay = started + i / rate - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(one(req)))
    await asyncio.gather(*tasks)
    elapsed = time.perf_counter() - started
    for c in opened:
        c.close()
    return lat, errors, elapsed
