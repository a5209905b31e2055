"""A TCP proxy in front of Synapse that can swallow answers.

With ``drop`` set, a request still reaches Synapse (and is applied), but its answer
is thrown away and the connection closed: the client sees a network error after the
server acted. That is the case deterministic transaction ids exist for.
"""

from __future__ import annotations

import asyncio
import contextlib
from urllib.parse import urlparse


class DroppingProxy:
    def __init__(self, upstream_url: str) -> None:
        parsed = urlparse(upstream_url)
        self._host = parsed.hostname or "127.0.0.1"
        self._port = parsed.port or 80
        self.drop = False
        self.dropped = 0
        self._server: asyncio.Server | None = None
        self.url = ""

    async def __aenter__(self) -> DroppingProxy:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        port = self._server.sockets[0].getsockname()[1]
        self.url = f"http://127.0.0.1:{port}"
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection(self._host, self._port)
        except OSError:
            writer.close()
            return

        async def pump(src: asyncio.StreamReader, dst: asyncio.StreamWriter, answers: bool) -> None:
            with contextlib.suppress(ConnectionError, OSError):
                while data := await src.read(65536):
                    if answers and self.drop:
                        self.dropped += 1
                        break
                    dst.write(data)
                    await dst.drain()
            writer.close()
            up_writer.close()

        await asyncio.gather(pump(reader, up_writer, False), pump(up_reader, writer, True))
