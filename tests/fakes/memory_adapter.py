"""A core-level test adapter: records what the outbox sends, and fails on cue.

``MemoryAdapter`` keeps everything in process memory (for in-process tests);
``RedisRecordingAdapter`` writes each send into Redis, so a worker child process can
be killed with SIGKILL and the test still sees exactly what reached the "platform".
Both follow the ``gateway.adapter.Adapter`` protocol; errors come from the
``gateway.errors`` tree exactly as a real adapter raises them.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections import defaultdict, deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from redis.asyncio import Redis

from gateway.adapter import AdapterContext, Route
from gateway.keys import Keys
from gateway.models import (
    ChatKind,
    OutboundMessage,
    Platform,
    PlatformMessageId,
    Priority,
    RateRule,
    SendReceipt,
    TargetId,
)

__all__ = ["MemoryAdapter", "RedisRecordingAdapter", "Sent"]

TELEGRAM = Platform("telegram")


@dataclass(frozen=True, slots=True)
class Sent:
    target: TargetId
    text: str
    message_id: PlatformMessageId
    idempotency_key: str
    at: float
    priority: str
    attachments: tuple[str, ...] = ()


@dataclass
class MemoryAdapter:
    platform: Platform = TELEGRAM
    delay: float = 0.0
    rules: Callable[[TargetId, ChatKind], Sequence[RateRule]] = lambda t, k: ()
    sends: list[Sent] = field(default_factory=list)
    edits: list[tuple[TargetId, tuple[PlatformMessageId, ...], str]] = field(default_factory=list)
    recalls: list[tuple[TargetId, tuple[PlatformMessageId, ...]]] = field(default_factory=list)
    left: list[TargetId] = field(default_factory=list)
    calls: int = 0
    _script: dict[str, deque[Exception]] = field(default_factory=lambda: defaultdict(deque))
    _always: dict[str, Exception] = field(default_factory=dict)
    _edit_errors: dict[str, Exception] = field(default_factory=dict)
    _recall_errors: dict[str, Exception] = field(default_factory=dict)
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    # --- scripting -------------------------------------------------------------
    def fail_next(self, target: str, *errors: Exception) -> None:
        """The next sends into ``target`` raise these, in order; then it works again."""
        self._script[target].extend(errors)

    def fail_always(self, target: str, error: Exception) -> None:
        self._always[target] = error

    def fail_edit(self, target: str, error: Exception) -> None:
        self._edit_errors[target] = error

    def fail_recall(self, target: str, error: Exception) -> None:
        self._recall_errors[target] = error

    def sent_to(self, target: str) -> list[Sent]:
        return [s for s in self.sends if s.target == target]

    # --- the Adapter protocol ---------------------------------------------------
    async def start(self, ctx: AdapterContext) -> None:
        return None

    async def run(self) -> None:
        await asyncio.Event().wait()

    async def aclose(self) -> None:
        return None

    async def check_ready(self) -> str | None:
        return None

    def routes(self) -> Sequence[Route]:
        return ()

    def rate_rules(
        self, target: TargetId, kind: ChatKind, priority: Priority = Priority.NORMAL
    ) -> Sequence[RateRule]:
        return self.rules(target, kind)

    async def send(self, msg: OutboundMessage) -> SendReceipt:
        self.calls += 1
        if self.delay:
            await asyncio.sleep(self.delay)
        if self._script[msg.target]:
            raise self._script[msg.target].popleft()
        if msg.target in self._always:
            raise self._always[msg.target]
        mid = PlatformMessageId(str(next(self._ids)))
        self.sends.append(
            Sent(
                msg.target,
                msg.text,
                mid,
                msg.idempotency_key,
                time.monotonic(),
                msg.priority.value,
                tuple(a.filename for a in msg.attachments),
            )
        )
        return SendReceipt(msg.target, (mid,), time.time())

    async def edit(
        self, target: TargetId, message_ids: Sequence[PlatformMessageId], msg: OutboundMessage
    ) -> None:
        if target in self._edit_errors:
            raise self._edit_errors[target]
        self.edits.append((target, tuple(message_ids), msg.text))

    async def recall(
        self, target: TargetId, message_ids: Sequence[PlatformMessageId], sent_at: float
    ) -> None:
        if target in self._recall_errors:
            raise self._recall_errors[target]
        self.recalls.append((target, tuple(message_ids)))

    async def leave(self, target: TargetId) -> None:
        self.left.append(target)


# KEYS: calls list, txn hash, seq. ARGV: idempotency key, dedupe flag.
# Like Matrix transaction ids when dedupe is on: the same key returns the same event.
_RECORD_LUA = """
redis.call('RPUSH', KEYS[1], ARGV[1])
if ARGV[2] == '1' then
  local known = redis.call('HGET', KEYS[2], ARGV[1])
  if known then return known end
end
local mid = redis.call('INCR', KEYS[3])
if ARGV[2] == '1' then redis.call('HSET', KEYS[2], ARGV[1], mid) end
return mid
"""


class RedisRecordingAdapter(MemoryAdapter):
    """Records every send call in Redis: ``test:<platform>:calls`` (one entry per call).

    With ``dedupe=True`` a repeated idempotency key returns the first message id, as a
    Matrix homeserver does for a repeated transaction id.
    """

    def __init__(
        self,
        redis: Redis,
        keys: Keys,
        platform: str,
        *,
        dedupe: bool,
        delay: float = 0.0,
        answer_delay: float = 0.0,
    ) -> None:
        super().__init__(platform=Platform(platform), delay=delay)
        self._answer_delay = answer_delay
        """Seconds between the platform recording the message and the answer arriving."""
        self._redis = redis
        self._keys = keys
        self._dedupe = dedupe
        self._record = redis.register_script(_RECORD_LUA)

    async def send(self, msg: OutboundMessage) -> SendReceipt:
        if self.delay:
            await asyncio.sleep(self.delay)
        k = self._keys
        mid = await self._record(
            keys=[
                k("test", self.platform, "calls"),
                k("test", self.platform, "txn"),
                k("test", self.platform, "seq"),
            ],
            args=[msg.idempotency_key, "1" if self._dedupe else "0"],
        )
        if self._answer_delay:
            await asyncio.sleep(self._answer_delay)
        return SendReceipt(msg.target, (PlatformMessageId(str(mid)),), time.time())
