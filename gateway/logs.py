"""Structured logging: one line per event, as ``key=value`` text or as JSON.

Fields passed with ``extra={...}`` are kept. Every line is redacted: anything shaped
like a Telegram bot token (with or without the ``bot`` of its URL path), a Synapse
access token (``syt_…``), a Bearer token, a ``token=``/``access_token=``/``password=``
query value, or the value of such a key in JSON or a dict repr is masked, because
libraries log request URLs and bodies and those carry tokens (httpx logs every Bot API
URL at INFO; nio logs login answers).
"""

from __future__ import annotations

import json
import logging
import re
import sys
import time
from typing import Any

from aiohttp.http_exceptions import HttpProcessingError

from gateway.safety.inert import visible

_STANDARD = set(logging.makeLogRecord({}).__dict__) | {"message", "asctime", "taskName"}
_KEYS = r"(?:access_token|refresh_token|token|secret|password|secret_token)"
_SECRETS = re.compile(
    r"(bot)\d{3,}:[A-Za-z0-9_-]{20,}"  # Telegram token in a URL path
    r"|((?<![\w-])\d{5,}:)[A-Za-z0-9_-]{30,}"  # a bare Telegram token: the id stays
    rf"|((?<![\w-]){_KEYS}=)[^&\s\"']+"  # query strings
    r"|((?:Bearer|bearer) )[A-Za-z0-9._~+/=-]{8,}"
    # JSON or a repr: "access_token": "v", 'password': 'v', and JSON inside a JSON string
    # (\"token\": \"v\"), whatever the spacing.
    rf"|((?:\\?[\"']){_KEYS}(?:\\?[\"'])\s*:\s*(?:\\?[\"']))(?:[^\"'\\]|\\[^\"'])+"
    r"|()syt_[A-Za-z0-9_]{8,}"  # Synapse access tokens, wherever they appear
)


def redact(text: str) -> str:
    return _SECRETS.sub(lambda m: next((g for g in m.groups() if g), "") + "***", text)


class QuietBadRequests(logging.Filter):
    """aiohttp logs every malformed HTTP request (a control character in a header,
    a broken request line) at ERROR *with a traceback*. It answered 400 already: keep
    one warning line with the reason, not a traceback per bad client."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        if isinstance(exc, HttpProcessingError) and 400 <= (exc.code or 0) < 500:
            first = (exc.message or type(exc).__name__).strip().splitlines()[0]
            record.msg, record.args = "bad HTTP request refused (%s): %s", (exc.code, first)
            record.exc_info, record.exc_text = None, None
            record.levelno, record.levelname = logging.WARNING, "WARNING"
        return True


def _fields(record: logging.LogRecord) -> dict[str, Any]:
    return {k: v for k, v in record.__dict__.items() if k not in _STANDARD}


class TextFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        ts = time.strftime("%Y-%m-%dT%H:%M:%S", time.localtime(record.created))
        parts = [ts, record.levelname, record.name, record.getMessage()]
        parts += [f"{k}={v}" for k, v in _fields(record).items()]
        # One event, one line: a newline or ESC in a resident's text (a chat title in
        # a message, a field) is shown escaped, never forged into a second log line.
        line = " ".join(visible(str(p), one_line=True) for p in parts)
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        return redact(line)


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        doc: dict[str, Any] = {
            "ts": round(record.created, 3),
            "level": record.levelname.lower(),
            "logger": record.name,
            "event": record.getMessage(),
        }
        doc.update(
            {
                k: v if isinstance(v, int | float | bool | None) else str(v)
                for k, v in _fields(record).items()
            }
        )
        if record.exc_info:
            doc["exc"] = self.formatException(record.exc_info)
        return redact(json.dumps(doc, ensure_ascii=False))


def setup_logging(level: str = "info", fmt: str = "text") -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # Chatty libraries: their request lines add nothing an operator needs.
    for name in ("httpx", "httpcore", "aiohttp.access", "nio", "telegram"):
        logging.getLogger(name).setLevel(max(logging.WARNING, root.level))
    server_log = logging.getLogger("aiohttp.server")
    if not any(isinstance(f, QuietBadRequests) for f in server_log.filters):
        server_log.addFilter(QuietBadRequests())
