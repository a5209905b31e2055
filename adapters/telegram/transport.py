"""PTB's HTTP transport on aiohttp: ``telegram.Bot(request=AiohttpRequest(...))``.

PTB's default ``HTTPXRequest`` cost about 44 % of palm's CPU per delivery in
``bench.fanout_headroom`` (httpx request building, anyio and httpcore per request). This
``BaseRequest`` keeps PTB (its methods, its parsing of Telegram's answers into
``telegram.error``) and swaps only the HTTP client: one ``aiohttp.ClientSession`` with a
keep-alive pool sized for the outbox workers.

Errors keep the contract ``adapters.telegram.errors`` relies on: a request that never
left this machine must be told apart from one that may have reached Telegram (a resend
of the latter may duplicate a message). ``errors._network`` recognises "not sent" by
the ``__cause__`` being one of httpx's connect/pool errors (what PTB's own transport
raises) or by PTB's "Pool timeout" message. So a connect failure here raises PTB's
``NetworkError``/``TimedOut`` from a ``RequestNotSent``/``ConnectTimedOut`` (subclasses of
those httpx errors, carrying the aiohttp error as their own cause); everything after the
request was handed to the socket (read timeout, reset, a cut answer) raises from the
aiohttp error itself, which ``errors`` treats as ambiguous. One translation table, two
transports.

aiohttp never retries a POST by itself (it retries only idempotent methods on a stale
keep-alive connection), so a send is written at most once per call.
"""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp
import httpx
from telegram._utils.defaultvalue import DefaultValue
from telegram._utils.types import ODVInput
from telegram.error import NetworkError, TimedOut
from telegram.request import BaseRequest, RequestData


class RequestNotSent(httpx.ConnectError):
    """The connection could not be made: nothing was written, a resend is safe."""


class ConnectTimedOut(httpx.ConnectTimeout):
    """A new connection was not made in time: nothing was written."""


class PoolTimedOut(httpx.PoolTimeout):
    """Every connection stayed busy for ``pool_timeout``: nothing was written."""


# PTB's own wording (errors.py recognises it too).
POOL_TIMEOUT_MESSAGE = (
    "Pool timeout: All connections in the connection pool are occupied. "
    "Request was *not* sent to Telegram."
)


# Like PTB's own transport: parameters form-encoded (nested objects JSON inside fields).
_FORM = {"Content-Type": "application/x-www-form-urlencoded"}


class AiohttpRequest(BaseRequest):
    """A ``telegram.request.BaseRequest`` on one shared ``aiohttp.ClientSession``."""

    __slots__ = (
        "_connect_timeout",
        "_media_write_timeout",
        "_pool_size",
        "_pool_timeout",
        "_read_timeout",
        "_session",
        "_slots",
        "_write_timeout",
    )

    def __init__(
        self,
        *,
        connection_pool_size: int = 64,
        connect_timeout: float = 5.0,
        read_timeout: float = 15.0,
        write_timeout: float = 15.0,
        pool_timeout: float = 5.0,
        media_write_timeout: float = 60.0,
    ) -> None:
        # No I/O here: the session is made in initialize() (inside the running loop).
        self._pool_size = connection_pool_size
        self._connect_timeout = connect_timeout
        self._read_timeout = read_timeout
        self._write_timeout = write_timeout
        self._pool_timeout = pool_timeout
        self._media_write_timeout = media_write_timeout
        self._session: aiohttp.ClientSession | None = None
        # The pool's slots: aiohttp's connect timeout covers waiting for a pooled
        # connection and opening one, PTB's pool_timeout only the wait, so palm waits here.
        self._slots = asyncio.Semaphore(connection_pool_size)

    def __repr__(self) -> str:
        return f"AiohttpRequest(pool={self._pool_size})"

    @property
    def read_timeout(self) -> float | None:
        return self._read_timeout

    async def initialize(self) -> None:
        if self._session is not None and not self._session.closed:
            return
        connector = aiohttp.TCPConnector(
            limit=self._pool_size,
            limit_per_host=self._pool_size,
            keepalive_timeout=30.0,
            # Telegram's address does not move often; skip a resolver call per request.
            ttl_dns_cache=300,
        )
        self._session = aiohttp.ClientSession(
            connector=connector,
            headers={"User-Agent": self.USER_AGENT},
            # Bot API answers are JSON; no cookies, no redirects, no auto-raise.
            cookie_jar=aiohttp.DummyCookieJar(),
            raise_for_status=False,
        )

    async def shutdown(self) -> None:
        session, self._session = self._session, None
        if session is not None and not session.closed:
            await session.close()

    async def do_request(
        self,
        url: str,
        method: str,
        request_data: RequestData | None = None,
        read_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
        write_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
        connect_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
        pool_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
    ) -> tuple[int, bytes]:
        session = self._session
        if session is None or session.closed:
            raise RuntimeError("AiohttpRequest used before initialize()")
        files = request_data.multipart_data if request_data is not None else None
        timeout = self._timeout(read_timeout, write_timeout, connect_timeout, files)
        if self._slots.locked():
            await self._wait_for_slot(pool_timeout)
        else:
            await self._slots.acquire()  # free: no timer needed
        try:
            return await self._request(session, url, method, request_data, files, timeout)
        finally:
            self._slots.release()

    async def _wait_for_slot(self, pool_timeout: ODVInput[float]) -> None:
        wait = self._pool_timeout if isinstance(pool_timeout, DefaultValue) else pool_timeout
        try:
            async with asyncio.timeout(wait):
                await self._slots.acquire()
        except TimeoutError as exc:
            raise TimedOut(POOL_TIMEOUT_MESSAGE) from _chain(PoolTimedOut("pool timeout"), exc)

    async def _request(
        self,
        session: aiohttp.ClientSession,
        url: str,
        method: str,
        request_data: RequestData | None,
        files: dict[str, Any] | None,
        timeouts: aiohttp.ClientTimeout,
    ) -> tuple[int, bytes]:
        body: Any = None
        headers = None
        if request_data is not None and files:
            body = _multipart(request_data, files)
        elif request_data is not None:
            body = request_data.url_encoded_parameters().encode()
            headers = _FORM
        try:
            async with session.request(
                method, url, data=body, headers=headers, timeout=timeouts, allow_redirects=False
            ) as resp:
                return resp.status, await resp.read()
        except aiohttp.ConnectionTimeoutError as exc:
            # Opening a new connection took too long: nothing written yet.
            text = _describe(exc, url)
            raise TimedOut(f"connect timeout ({text})") from _chain(ConnectTimedOut(text), exc)
        except (aiohttp.ClientConnectorError, aiohttp.InvalidURL) as exc:
            text = _describe(exc, url)
            raise NetworkError(text) from _chain(RequestNotSent(text), exc)
        except TimeoutError as exc:  # aiohttp.SocketTimeoutError (sock_read) included
            # A read timeout: the request was written, Telegram may have processed it.
            raise TimedOut(f"no answer in time ({_describe(exc, url)})") from exc
        except aiohttp.ClientError as exc:
            # Reset, disconnect or a cut answer after writing: ambiguous for a send.
            raise NetworkError(_describe(exc, url)) from exc

    def _timeout(
        self, read: ODVInput[float], write: ODVInput[float], connect: ODVInput[float], files: object
    ) -> aiohttp.ClientTimeout:
        r = self._read_timeout if isinstance(read, DefaultValue) else read
        c = self._connect_timeout if isinstance(connect, DefaultValue) else connect
        if isinstance(write, DefaultValue):
            w: float | None = self._media_write_timeout if files else self._write_timeout
        else:
            w = write
        # aiohttp has no write timeout, and its read timer runs while the body is still
        # being written: an upload's read budget must cover the upload too.
        sock_read = r if not files or r is None or w is None else max(r, w)
        # The pool wait is timed in do_request; the connector never waits (same size).
        return aiohttp.ClientTimeout(total=None, connect=c, sock_connect=c, sock_read=sock_read)


def _multipart(request_data: RequestData, files: dict[str, Any]) -> aiohttp.FormData:
    """The parameters and the files as one multipart body, like PTB's own transport."""
    form = aiohttp.FormData(quote_fields=False)
    for name, value in request_data.json_parameters.items():
        form.add_field(name, value)
    for name, part in files.items():
        # PTB's parts are httpx-style: (filename, content[, mime type]).
        if isinstance(part, tuple):
            filename, content, *mime = part
            form.add_field(name, content, filename=filename, content_type=mime[0] if mime else None)
        else:
            form.add_field(name, part)
    return form


def _describe(exc: BaseException, url: str) -> str:
    """The error for messages and logs; the URL (it holds the bot token) redacted."""
    text = str(exc).replace(url, "<url>").replace(url.rsplit("/", 1)[0], "<url>")
    return f"aiohttp.{type(exc).__name__}: {text}" if text else f"aiohttp.{type(exc).__name__}"


def _chain(marker: httpx.TransportError, cause: BaseException) -> httpx.TransportError:
    """``marker`` with the real aiohttp error as its cause, so tracebacks show both."""
    marker.__cause__ = cause
    return marker
