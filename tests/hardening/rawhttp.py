"""Send raw bytes to a test server: aiohttp's client refuses to send bad headers."""

from __future__ import annotations

import asyncio
import json
from typing import Any


async def raw_request(
    host: str, port: int, head: bytes, body: bytes = b""
) -> tuple[int, dict[str, Any] | None]:
    """``head`` is the request line plus header lines, each ending in CRLF."""
    reader, writer = await asyncio.open_connection(host, port)
    try:
        writer.write(head + b"Content-Length: %d\r\nConnection: close\r\n\r\n" % len(body) + body)
        data = await reader.read()
    finally:
        writer.close()
    status_line, _, rest = data.partition(b"\r\n")
    _, _, payload = rest.partition(b"\r\n\r\n")
    try:
        parsed = json.loads(payload) if payload else None
    except ValueError:
        parsed = None
    return int(status_line.split()[1]), parsed
