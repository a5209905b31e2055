"""Structured logging: one line per event, as ``key=value`` text or as JSON.

Fields passed with ``extra={...}`` are kept. A filter masks anything shaped like a
Telegram bot token or a Bearer/access token, because libraries log request URLs and
those carry the token (httpx logs every Bot API URL at INFO).
"""

from __future__ import annotations

import json
import logging
import re
import sys
import time
from typing import Any

_STANDARD = set(logging.makeLogRecord({}).__dict__) | {"message", "asctime", "taskName"}
_SECRETS = re.compile(
    r"(bot)\d{3,}:[A-Za-z0-9_-]{20,}"  # Telegram token in a URL path
    r"|((?:access_token|token|secret)=)[^&\s\"']+"  # query strings
    r"|((?:Bearer|bearer) )[A-Za-z0-9._~+/=-]{8,}"
)


def redact(text: str) -> str:
    return _SECRETS.sub(lambda m: (m.group(1) or m.group(2) or m.group(3) or "") + "***", text)


def _fields(record: logging.LogRecord) -> dict[str, Any]:
    return {k: v for k, v in record.__dict__.items() if k not in _STANDARD}


class TextFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        ts = time.strftime("%Y-%m-%dT%H:%M:%S", time.localtime(record.created))
        parts = [ts, record.levelname, record.name, record.getMessage()]
        parts += [f"{k}={v}" for k, v in _fields(record).items()]
        line = " ".join(str(p) for p in parts)
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
