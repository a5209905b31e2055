"""What a person does with a parked entry (``gateway.funnel.deadletters``): *retry* it or
mark it *handled*.

A parked resident's message stays on the console's queue page until someone acts on
it, so the list shows what still needs a person:

* **handled**: staff reached the resident (or there was nothing to do); the entry
  leaves the list.
* **retry**: the entry goes back, whole, onto the inbound stream and the funnel
  handles it as if it had just arrived (after a fix, or once Redis is well again). It
  becomes a ticket, or it is parked again under a new entry id; the resident is not
  answered twice (``parked_answer``'s delivery id is per message).

Each is one Lua step (``LREM`` of the exact list item, then the ``XADD``), so two
people acting on the same entry at once do it once: the second gets "already handled".
"""

from __future__ import annotations

import json
import logging
from typing import Any, Literal

from redis.exceptions import RedisError

from gateway.console.events import parked_event
from gateway.errors import GatewayError, InputError, NotFound, StoreUnavailable
from gateway.funnel.deadletters import Parked
from gateway.inbound import inbound_stream
from gateway.runtime import Runtime
from gateway.staffroom.parked import mark_cards

log = logging.getLogger("palm.funnel")

Action = Literal["retry", "handled"]
ACTIONS: dict[str, Action] = {"retry": "retry", "handled": "handled"}
"""By name, as a URL or a command line gives it."""

# KEYS[1] the parked list, KEYS[2] the inbound stream; ARGV[1] the list item, exactly;
# ARGV[2..] the stream fields to add back (none: handled). 0: it is gone already.
_SETTLE = """
if redis.call('LREM', KEYS[1], 1, ARGV[1]) == 0 then return 0 end
if #ARGV > 1 then redis.call('XADD', KEYS[2], '*', unpack(ARGV, 2)) end
return 1
"""


def pick(items: list[Parked], entry: str) -> Parked:
    """The entry ``entry`` among ``items`` (those the caller may act on), else 404."""
    for p in items:
        if p.entry == entry:
            return p
    raise _gone(entry)


def _gone(entry: str) -> NotFound:
    return NotFound(
        f"no parked message {entry} (someone may have handled it already)",
        zh=f"没有待处理的消息 {entry}（可能已有人处理）",
    )


def stream_fields(p: Parked) -> list[str]:
    """The entry's original stream fields, flat (``k1, v1, ...``), for a retry."""
    try:
        fields: Any = json.loads(p.record).get("fields")
    except (ValueError, AttributeError):
        fields = None
    if not isinstance(fields, dict) or not fields:
        raise InputError(
            f"parked entry {p.entry} cannot be read, so it cannot be handled again: "
            "mark it handled instead",
            zh=f"无法读取待处理条目 {p.entry}，不能重新处理；请标记为已处理",
        )
    return [str(x) for kv in fields.items() for x in kv]


async def act(rt: Runtime, p: Parked, action: Action, *, by: str) -> dict[str, str]:
    """Retry ``p`` or mark it handled; ``{"entry", "done"}``. 404 when it is gone."""
    args = [p.record, *(stream_fields(p) if action == "retry" else [])]
    script: Any = rt.redis.register_script(_SETTLE)
    try:
        removed = await script(keys=[rt.keys("inbound", "deadletter"), inbound_stream(rt.keys)],
                               args=args)  # fmt: skip
    except (RedisError, OSError) as exc:
        raise StoreUnavailable(f"parked entries: {exc}") from exc
    if not removed:
        raise _gone(p.entry)
    log.info("parked entry %s", action, extra={"entry": p.entry, "by": by})
    done = "retried" if action == "retry" else "handled"
    await parked_event(rt, p.entry, p.target, done)
    try:  # the staff rooms' cards of it say so; the action is done either way
        await mark_cards(rt, p, action, by)
    except (GatewayError, RedisError, OSError) as exc:
        log.warning("parked entry: cards not edited", extra={"entry": p.entry, "error": str(exc)})
    return {"entry": p.entry, "done": done}
