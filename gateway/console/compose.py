"""The composer's live helpers: audience matches per platform, and the platform previews."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from gateway import audience
from gateway.accounts import Scope, check_audience
from gateway.errors import AudienceError, Forbidden
from gateway.markdown import escape_html, parse, to_html
from gateway.runtime import Runtime
from gateway.targets import TargetDirectory

MAX_LISTED = 50


async def matches(rt: Runtime, scope: Scope | None, expr: str) -> dict[str, Any]:
    """``{ok, count, platforms: {name: {count, chats}}}`` or ``{ok: false, error}``."""
    directory = TargetDirectory(rt.redis, rt.keys)
    try:
        ids = await audience.resolve(directory, expr)
        await check_audience(directory, scope, ids)
    except (AudienceError, Forbidden) as exc:
        return {"ok": False, "error": exc.message}
    platforms: dict[str, dict[str, Any]] = {}
    for target in await directory.many(ids):
        p = platforms.setdefault(target.platform, {"count": 0, "chats": []})
        p["count"] += 1
        if len(p["chats"]) < MAX_LISTED:
            p["chats"].append({"id": target.id, "title": target.title or target.id})
    return {"ok": True, "count": len(ids), "platforms": dict(sorted(platforms.items()))}


def previews(text: str, title: str | None) -> dict[str, str]:
    """HTML as each platform will show it (both built from gateway.markdown, escaped)."""
    blocks = parse(text)
    head = f"<b>{escape_html(title)}</b>\n\n" if title else ""
    matrix_head = f"<p><b>{escape_html(title)}</b></p>" if title else ""
    return {
        "telegram": head + to_html(blocks, block_tags=False),
        "matrix": matrix_head + to_html(blocks, block_tags=True),
    }


def local_zone() -> str:
    """palm's local time zone, as the schedule field means it: e.g. 'CST (UTC+08:00)'."""
    now = datetime.now().astimezone()
    offset = now.strftime("%z")
    return f"{now.tzname()} (UTC{offset[:3]}:{offset[3:]})"


def parse_local(raw: str) -> float | None:
    """A ``datetime-local`` value in palm's local time zone, as a timestamp."""
    if not raw.strip():
        return None
    return datetime.fromisoformat(raw.strip()).astimezone().timestamp()
