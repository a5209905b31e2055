"""Residents' photos on the ticket page, fetched from their platform on demand.

Nothing is stored: the platform keeps the file, the console asks the adapter of this
``palm run`` for it (an adapter that can, e.g. Telegram's ``getFile``) when a page shows
it. Only images are served, and only to an account that may see the ticket.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from aiohttp import web

from gateway.console.context import runtime
from gateway.errors import NotFound, NotPossible

MAX_BYTES = 10 * 1024 * 1024


@runtime_checkable
class FileSource(Protocol):
    async def fetch_file(self, ref: str, max_bytes: int) -> tuple[bytes, str]:
        """The file's bytes and MIME type."""
        ...


async def photo(request: web.Request, detail: dict[str, object]) -> web.StreamResponse:
    """The ``a``-th attachment of the ``m``-th message of an already scope-checked ticket."""
    try:
        m, a = int(request.match_info["m"]), int(request.match_info["a"])
        conversation = detail["conversation"]
        assert isinstance(conversation, list)
        att = conversation[m]["attachments"][a]
    except (ValueError, IndexError, KeyError, TypeError):
        raise NotFound("no such attachment", zh="没有这个附件") from None
    resident = detail["resident"]
    assert isinstance(resident, dict)
    source: object = runtime(request).adapters.get(str(resident["platform"]))
    if att.get("kind") != "photo" or not isinstance(source, FileSource):
        raise NotFound("this attachment cannot be shown here", zh="这个附件无法在这里显示")
    try:
        data, mime = await source.fetch_file(str(att["ref"]), MAX_BYTES)
    except NotPossible as exc:
        raise NotFound(exc.message, zh=f"这个附件无法在这里显示（{exc.say('zh')}）") from None
    if not mime.startswith("image/"):
        raise NotFound("not an image", zh="这不是图片")
    return web.Response(
        body=data, content_type=mime, headers={"Cache-Control": "private, max-age=3600"}
    )
