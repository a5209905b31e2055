"""Finding the primary through the sentinels: the newest configuration wins.

redis-py's ``Sentinel.discover_master`` takes the first sentinel whose ``SENTINEL
MASTERS`` entry names a healthy primary. Two moments make that the *old* primary, once
it is back (systemd restarts it) and answers as a primary with its old data, for 10 s
and more, until the sentinels turn it into a replica:

- while a failover runs, the leading sentinel's entry still names the old primary,
  flagged ``failover_in_progress`` (only ``get-master-addr-by-name`` already gives the
  promoted replica), and the others have not switched yet: a primary restarted in that
  moment answers their pings, loses ``s_down``, and looks healthy to all of them;
- a sentinel that missed the failover (it went down with the primary's machine, or was
  cut off) names the old primary until it hears the others.

Whatever palm writes there is lost when it resyncs. A run of ``tests/ops/test_failover.py``
hit the first case here: palm wrote to the restarted primary for 12 s, 48 chats got the
notice twice (uncounted), and a settle lost there while its ack landed on the new primary
can leave a delivery nobody sends (``gateway.outbox.lua.ACK_LUA`` now refuses such acks).
A connection made to the wrong primary stays there until that server is demoted, so one
wrong answer is enough.

Sentinels order their views by the configuration epoch, which every failover raises. So
palm asks all of them at once, follows nobody while any of them is failing over, and
then follows the healthy primary named with the highest epoch.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

from redis.asyncio.sentinel import MasterNotFoundError, Sentinel
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

log = logging.getLogger("palm.redis")

Address = tuple[str, int]


def newest_primary(views: Sequence[Mapping[str, Any]]) -> Address | None:
    """The primary named in the views with the highest ``config-epoch`` (the most
    sentinels' answer on a tie); ``None`` when no view names a healthy one, or while a
    sentinel is failing the primary over.

    ``views`` are redis-py's parsed ``SENTINEL MASTERS`` entries for one service. During
    a failover the leader's entry still carries the old address (only ``SENTINEL
    get-master-addr-by-name`` gives the promoted one); if the old primary is back by
    then, nothing else in the entries tells it from the real one.
    """
    if any("failover_in_progress" in _flags(v) for v in views):
        return None
    healthy = [
        v for v in views if v.get("is_master") and not v.get("is_sdown") and not v.get("is_odown")
    ]
    if not healthy:
        return None
    top = max(int(v.get("config-epoch", 0)) for v in healthy)
    named = Counter(
        (str(v["ip"]), int(v["port"])) for v in healthy if int(v.get("config-epoch", 0)) == top
    )
    return named.most_common(1)[0][0]


def _flags(view: Mapping[str, Any]) -> set[str]:
    flags = view.get("flags", "")
    return set(flags.split(",")) if isinstance(flags, str) else set(flags)


class EpochSentinel(Sentinel):
    """``Sentinel`` whose ``discover_master`` follows the newest configuration."""

    _followed: Address | None = None

    async def discover_master(self, service_name: str) -> Address:
        # All of them, not the first few: right after a failover only the sentinel that
        # led it may know, and the others still name the old primary once it is back.
        # A sentinel that is down refuses at once; one that hangs costs its 2 s timeout.
        answers = await asyncio.gather(
            *(s.sentinel_masters() for s in self.sentinels), return_exceptions=True
        )
        views: list[Mapping[str, Any]] = []
        errors: list[str] = []
        for answer in answers:
            if isinstance(answer, (RedisConnectionError, RedisTimeoutError, OSError)):
                errors.append(repr(answer))
                continue
            if isinstance(answer, BaseException):
                raise answer
            # Parsed into {name: state}, in RESP2 and RESP3 alike.
            state = answer.get(service_name) if isinstance(answer, dict) else None
            if state:
                views.append(state)
        found = newest_primary(views)
        if found is None:
            if any("failover_in_progress" in _flags(v) for v in views):
                errors.insert(0, "a sentinel is failing the primary over")
            info = f" : {', '.join(errors)}" if errors else ""
            raise MasterNotFoundError(f"No master found for {service_name!r}{info}")
        if found != self._followed:
            # Once at start, then at each failover: the operator's record of where palm wrote.
            level = logging.INFO if self._followed is None else logging.WARNING
            self._followed = found
            log.log(level, "redis primary: following %s:%s", *found)
        return found
