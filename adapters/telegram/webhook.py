"""Webhook mode: Telegram POSTs each update to palm's own HTTP server.

The answer is 200 only once the update is durable in Redis. While Redis is down the
answer is 503, so Telegram keeps the update and sends it again later. A missing secret
header gets 401, a wrong one 403 (compared in constant time).
"""

from __future__ import annotations

import functools
import hmac
import logging

from aiohttp import web
from prometheus_client import Counter

from adapters.telegram.normalize import BotIdentity, normalize
from gateway.adapter import InboundSink
from gateway.errors import InputError, StoreUnavailable
from gateway.metrics import INBOUND
from gateway.models import InboundMessage
from gateway.safety import jsonbody
from gateway.safety.headers import visible_ascii

log = logging.getLogger(__name__)

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
MAX_BODY = 1024 * 1024
_OK = b'{"ok":true}'
"""The answer to every stored update, encoded once."""


class WebhookHandler:
    def __init__(self, secret: str, me: BotIdentity, sink: InboundSink) -> None:
        self._secret = secret.encode()
        self._me = me
        self._sink = sink

    def __repr__(self) -> str:
        return "WebhookHandler(secret=***)"

    async def __call__(self, request: web.Request) -> web.StreamResponse:
        given = request.headers.get(SECRET_HEADER)
        if given is None:
            return _error(401, "missing secret token")
        # A secret with bytes that are not visible ASCII is wrong by construction
        # (Telegram allows A-Z a-z 0-9 _ -), and would not encode for the compare.
        if not visible_ascii(given) or not hmac.compare_digest(given.encode(), self._secret):
            log.warning("telegram webhook: wrong secret token from %s", request.remote)
            return _error(403, "wrong secret token")
        if request.content_length is not None and request.content_length > MAX_BODY:
            return _error(413, "body too large")
        try:
            update = jsonbody.loads(await request.read())
        except InputError:
            return _error(400, "body is not JSON")
        events = normalize(update, self._me)
        try:
            await self._sink.accept(events)
        except StoreUnavailable as exc:
            log.warning(
                "telegram webhook: cannot store the update (%s); answering 503", exc.message
            )
            return _error(503, "store unavailable, retry later")
        for e in events:
            if isinstance(e, InboundMessage):
                _counter(e.command.value if e.command else "message").inc()
        return web.Response(body=_OK, content_type="application/json")


@functools.cache
def _counter(kind: str) -> Counter:
    """``INBOUND`` for one kind; ``labels()`` looked up per update showed in the profile."""
    return INBOUND.labels(platform="telegram", kind=kind)


def _error(status: int, message: str) -> web.Response:
    return web.json_response({"ok": False, "error": message}, status=status)
