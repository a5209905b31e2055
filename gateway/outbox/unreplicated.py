"""Sends recorded while the replicas lagged (``redis.replica_acks``, ``WAIT`` failed).

Such a record lives only on the primary that took it. If a failover then promotes a
server without it (two failovers in a row can bring the old primary back), the delivery
is found ``queued`` again, not even in flight, and would go out a second time with no
trace. The process that recorded it remembers its id here; if one of its workers takes
that delivery again unfinished, the resend is counted as a possible duplicate, as a
send in flight at a crash is. Only the same process can know: the memory is in-process
and bounded (the oldest ids are forgotten first).
"""

from __future__ import annotations

import weakref
from collections import OrderedDict

from redis.asyncio import Redis

LIMIT = 100_000
"""Ids kept; a failover that loses more than this many records is beyond counting."""


class Unreplicated:
    __slots__ = ("_ids",)

    def __init__(self) -> None:
        self._ids: OrderedDict[str, None] = OrderedDict()

    def add(self, delivery_id: str) -> None:
        self._ids[delivery_id] = None
        self._ids.move_to_end(delivery_id)
        while len(self._ids) > LIMIT:
            self._ids.popitem(last=False)

    def pop(self, delivery_id: str) -> bool:
        """``True`` (once) if ``delivery_id`` was recorded sent while the replicas lagged."""
        return self._ids.pop(delivery_id, False) is None

    def __len__(self) -> int:
        return len(self._ids)


_BY_CLIENT: weakref.WeakKeyDictionary[Redis, Unreplicated] = weakref.WeakKeyDictionary()


def unreplicated(redis: Redis) -> Unreplicated:
    """The memory shared by every worker of this process on ``redis``."""
    memory = _BY_CLIENT.get(redis)
    if memory is None:
        memory = _BY_CLIENT[redis] = Unreplicated()
    return memory
