"""What a principal sees of polls, scoped — for the API, the CLI and the console.

A poll is visible when one of its chats is inside the scope (``None``: everything);
acting on it (closing) needs all of its chats inside, else 403 naming the others,
the rule announcements follow.
"""

from __future__ import annotations

from typing import Any

from gateway.accounts import Scope, targets_in_scope
from gateway.accounts.scope import check_audience
from gateway.errors import NotFound
from gateway.polls.model import Poll, parse_id
from gateway.polls.service import store_of
from gateway.polls.tally import summary
from gateway.runtime import Runtime
from gateway.safety.inert import visible
from gateway.targets import TargetDirectory


async def _visible(rt: Runtime, scope: Scope | None, poll: Poll, *, acting: bool) -> bool:
    if scope is None:
        return True
    directory = TargetDirectory(rt.redis, rt.keys)
    allowed = await targets_in_scope(directory, scope) or set()
    targets = await store_of(rt).targets(poll.id)
    if allowed.isdisjoint(targets):
        return False
    if acting:
        await check_audience(directory, scope, targets)
    return True


async def poll_in_scope(
    rt: Runtime, scope: Scope | None, raw_id: str, *, acting: bool = False
) -> Poll:
    """The poll, or ``NotFound`` when it does not exist or lies outside ``scope``."""
    poll = await store_of(rt).get(parse_id(raw_id))
    if poll is None or not await _visible(rt, scope, poll, acting=acting):
        shown = visible(raw_id, one_line=True)
        if scope is None:
            raise NotFound(f"no poll {raw_id}", zh=f"没有投票 {shown}")
        raise NotFound(f"no poll {raw_id} in your scope", zh=f"你负责的范围内没有投票 {shown}")
    return poll


async def list_polls(rt: Runtime, scope: Scope | None, limit: int = 50) -> list[Poll]:
    return [
        p for p in await store_of(rt).recent(limit) if await _visible(rt, scope, p, acting=False)
    ]


async def detail(rt: Runtime, poll: Poll, by: str | None = None) -> dict[str, Any]:
    """Counts, turnout, what was not counted (``ignored``) and the comments."""
    store = store_of(rt)
    data = await summary(rt, poll, await store.votes(poll.id), by)
    data["ignored"] = await store.stats(poll.id)
    data["comments"] = await store.comments(poll.id)
    return data
