"""The composer's live helpers: audience matches per platform, and the platform previews."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from gateway import audience
from gateway.accounts import Scope, check_audience, targets_in_scope
from gateway.errors import AudienceError, Forbidden
from gateway.markdown import escape_html, parse, to_html
from gateway.runtime import Runtime
from gateway.targets import TargetDirectory

MAX_LISTED = 50
MAX_PICKS = 60
"""Tags offered as one-click audiences; the field still takes any expression."""
MAX_SCOPE_READ = 5000
"""A scope with more chats than this offers only itself (its chats' tags are not read)."""


@dataclass(frozen=True, slots=True)
class Pick:
    """A one-click audience: ``label`` on the button, ``expr`` into the Audience field;
    ``everything`` replaces the field, the others are added to it with ``|``."""

    label: str
    expr: str
    everything: bool = False


async def picks(rt: Runtime, scope: Scope | None) -> list[Pick]:
    """Every group (or the account's whole scope), then each tag in use, so staff pick
    an audience instead of writing one. A scoped account is offered ``scope & tag`` for
    the tags of the chats inside its scope: every pick is one it may send to."""
    directory = TargetDirectory(rt.redis, rt.keys)
    if scope is None:
        names = _natural(str(t) for t in await rt.redis.smembers(rt.keys("tags")))
        used: list[str] = []
        # A tag no chat carries any more is left out; read in chunks, so a directory
        # with a tag per household reads only as far as the picks go.
        for start in range(0, len(names), 2 * MAX_PICKS):
            chunk = names[start : start + 2 * MAX_PICKS]
            pipe = rt.redis.pipeline(transaction=False)
            for name in chunk:
                pipe.scard(rt.keys("tag", name))
            used += [n for n, size in zip(chunk, await pipe.execute(), strict=True) if size]
            if len(used) >= MAX_PICKS:
                break
        return [Pick("*", "*", True)] + [Pick(n, n) for n in used[:MAX_PICKS]]
    inside = await targets_in_scope(directory, scope) or set()
    first = [Pick(scope.expr, scope.expr, True)]
    if len(inside) > MAX_SCOPE_READ:
        return first
    own = audience.tags_of(scope.tree)
    chats = [t for t in await directory.many(sorted(inside)) if t.active]
    tags = {tag for chat in chats for tag in chat.tags} - own
    return first + [
        Pick(t, audience.to_text(audience.And((scope.tree, audience.Tag(t)))))
        for t in _natural(tags)[:MAX_PICKS]
    ]


def _natural(names: Any) -> list[str]:
    """``building:2`` before ``building:10``."""
    return sorted(
        names, key=lambda n: [int(p) if p.isdigit() else p for p in re.split(r"(\d+)", n)]
    )


async def matches(rt: Runtime, scope: Scope | None, expr: str, lang: str) -> dict[str, Any]:
    """``{ok, count, platforms: {name: {count, chats}}}`` or ``{ok: false, error}``, the
    error in the page's language ``lang``."""
    directory = TargetDirectory(rt.redis, rt.keys)
    try:
        ids = await audience.resolve(directory, expr)
        await check_audience(directory, scope, ids)
    except (AudienceError, Forbidden) as exc:
        return {"ok": False, "error": exc.say(lang)}
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
