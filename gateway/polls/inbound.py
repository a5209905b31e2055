"""The funnel hook for polls: native votes, numbered replies and comments.

``True`` means the event belonged to a poll and opens no ticket. It is idempotent:
the vote script remembers each update id (``seen``) and a comment is stored under
its update id, so a redelivered entry changes nothing.
"""

from __future__ import annotations

import logging

from gateway.console.events import publish
from gateway.metrics import POLL_VOTES
from gateway.models import InboundEvent, InboundMessage, PollVote
from gateway.outbox import lookup_msgref
from gateway.polls.model import ORIGIN, numbered_choice
from gateway.polls.service import resolve_ref, store_of
from gateway.runtime import Runtime

log = logging.getLogger("palm.polls")

COUNTED = frozenset({"counted", "changed", "retracted"})


async def on_inbound(rt: Runtime, event: InboundEvent) -> bool:
    if isinstance(event, PollVote):
        await _native(rt, event)
        return True
    if isinstance(event, InboundMessage) and event.reply_to is not None:
        return await _reply(rt, event)
    return False


async def _native(rt: Runtime, vote: PollVote) -> None:
    found = await resolve_ref(rt, vote.platform, vote.poll_ref, vote.sent_at)
    if found is None:
        log.debug("vote for a poll palm did not send", extra={"ref": vote.poll_ref})
        return
    poll_id, target = found
    # Matrix says where the response was sent: a response from another room (relating
    # to our event from outside) is outside the audience. Telegram names no chat.
    target = vote.target or target
    await _count(rt, poll_id, vote.platform, vote.dedupe_key, vote.sender.user_id,
                 vote.sender.display_name, target, vote.options, vote.sent_at)  # fmt: skip


async def _reply(rt: Runtime, msg: InboundMessage) -> bool:
    assert msg.reply_to is not None
    origin = await lookup_msgref(rt, msg.target, msg.reply_to)
    if origin is None or origin[0] != ORIGIN:
        return False
    poll_id = origin[1]
    polls = store_of(rt)
    poll = await polls.get(poll_id)
    if poll is None or msg.sender.is_bot:
        return poll is not None
    choice = numbered_choice(msg.text, len(poll.options), poll.multiple)
    if choice is not None and msg.edit_of is None:
        await _count(rt, poll_id, msg.platform, msg.dedupe_key, msg.sender.user_id,
                     msg.sender.display_name, msg.target, choice, msg.sent_at)  # fmt: skip
        return True
    comment = {
        "resident": f"{msg.platform}:{msg.sender.user_id}",
        "name": msg.sender.display_name,
        "target": msg.target,
        "text": msg.text,
        "at": msg.sent_at,
    }
    await polls.add_comment(poll_id, f"{msg.platform}:{msg.dedupe_key}", comment)
    return True


async def _count(
    rt: Runtime,
    poll_id: str,
    platform: str,
    dedupe_key: str,
    user_id: str,
    name: str,
    target: str,
    options: tuple[int, ...],
    sent_at: float,
) -> None:
    outcome = await store_of(rt).vote(
        poll_id,
        update_id=f"{platform}:{dedupe_key}",
        resident=f"{platform}:{user_id}",
        target=target,
        options=options,
        sent_at=sent_at,
        name=name,
    )
    if outcome in COUNTED:
        POLL_VOTES.labels(platform=platform).inc()
        # The console's poll page refreshes its results from this (scoped by chat).
        await publish(rt.redis, rt.keys, "vote", poll_id, target, {"what": outcome})
    log.info("poll vote", extra={"poll": poll_id, "outcome": outcome, "platform": platform})
