"""The ticket store: tickets as conversations, in Redis, changed only by Lua scripts.

See ``gateway.funnel.lua`` for the key layout and why every change is one script.
Listing reads sorted-set indexes (urgent first, then oldest), never SCAN/KEYS, so it
stays fast with 100k open tickets; a cursor is the last (score, id) seen.
"""

from __future__ import annotations

import base64
import builtins
import json
import time
from collections.abc import Awaitable, Collection
from typing import Any, cast

from redis.asyncio import Redis
from redis.asyncio.client import Pipeline
from redis.exceptions import RedisError

from gateway.errors import Conflict, InputError, NotFound, StoreUnavailable
from gateway.funnel import lua
from gateway.funnel.bytarget import ScopedIndexes, walk_scope
from gateway.funnel.routing import Decision, TicketKind, TicketRef
from gateway.funnel.ticket_model import OPEN_STATUSES, Applied, Status, Ticket, message_json
from gateway.keys import Keys
from gateway.models import ChatKind, InboundMessage, TicketId, UserId
from gateway.rules import Classification
from gateway.safety.inert import visible


def message_field(target: str, message_id: str) -> str:
    """The ``ticket:bymsg`` field of one platform message (``<target>|<message id>``)."""
    return f"{target}|{message_id}"


def _open_field(msg: InboundMessage) -> str:
    return message_field(msg.target, msg.sender.user_id) if msg.chat_kind is ChatKind.DIRECT else ""


def _encode_cursor(score: float, member: str) -> str:
    return base64.urlsafe_b64encode(f"{score!r}|{member}".encode()).decode().rstrip("=")


def _decode_cursor(cursor: str) -> tuple[float, str]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        score, member = raw.split("|", 1)
        return float(score), member
    except (ValueError, UnicodeDecodeError):
        raise InputError(
            "cursor: not a cursor this API gave out", zh="翻页位置无效：请从第一页重新打开"
        ) from None


def no_ticket(tid: TicketId) -> NotFound:
    return NotFound(f"no ticket {tid}", zh=f"没有工单 {tid}")


class TicketStore:
    def __init__(self, redis: Redis, keys: Keys) -> None:
        self._r = redis
        self._k = keys
        self._apply = redis.register_script(lua.APPLY_INBOUND)
        self._claim = redis.register_script(lua.CLAIM)
        self._reply = redis.register_script(lua.REPLY)
        self._resolve = redis.register_script(lua.RESOLVE)

    async def _run(self, script: Any, *args: str | int | float) -> list[Any]:
        try:
            out = await script(keys=[], args=[self._k.prefix, *args])
        except (RedisError, OSError) as exc:
            raise StoreUnavailable(f"ticket store: {exc}") from exc
        return list(out)

    # --- inbound ---------------------------------------------------------------
    async def apply(
        self,
        msg: InboundMessage,
        decision: Decision,
        cls: Classification,
        language: str,
        *,
        attach: bool = False,
    ) -> Applied:
        """Store one routed message: open a ticket, join one, or edit a stored message.

        ``attach``: join ``decision.ticket`` if it is still open, else store nothing
        (a message over a flood limit never opens a ticket)."""
        now = time.time()
        action = {"new": "new", "follow_up": "follow", "edit": "edit"}[decision.action.value]
        if attach:
            action = "attach"
        received = msg.sent_at if 0 < msg.sent_at <= now else now
        fields = {
            "kind": (decision.kind or TicketKind.MESSAGE).value,
            "category": cls.category,
            "priority": cls.priority.value,
            "matched": ",".join(cls.matched),
            "platform": msg.platform,
            "target": msg.target,
            "chat_kind": msg.chat_kind.value,
            "chat_title": msg.chat_title or "",
            "resident_id": msg.sender.user_id,
            "resident_name": msg.sender.display_name,
            "language": language,
            "first_message_id": msg.message_id,
            "announcement": decision.announcement or "",
            "received_at": repr(received),
            "text": msg.text[:500],
            "open_field": _open_field(msg),
        }
        out = await self._run(
            self._apply,
            action,
            decision.ticket or "",
            message_field(msg.target, msg.message_id),
            _open_field(msg),
            message_json(msg, now),
            json.dumps(fields, ensure_ascii=False),
            repr(now),
            message_field(msg.target, msg.edit_of or ""),
            msg.text,
        )
        tid = TicketId(out[0]) if out[0] else None
        return Applied(tid, int(out[1]), str(out[2]))

    async def ref_for_message(self, target: str, message_id: str) -> TicketRef | None:
        """The ticket a message in ``target`` belongs to: palm's own send or a stored one."""
        f = message_field(target, message_id)
        try:
            tid: Any = await self._r.hget(self._k("ticket", "botmsg"), f)
            if tid is None:
                where: Any = await self._r.hget(self._k("ticket", "bymsg"), f)
                tid = where.rsplit("#", 1)[0] if where else None
        except (RedisError, OSError) as exc:
            raise StoreUnavailable(f"ticket store: {exc}") from exc
        return await self.ref(TicketId(tid)) if tid else None

    async def ref(self, tid: TicketId) -> TicketRef | None:
        try:
            found: Any = await self._r.hmget(self._k("ticket", tid), ["resident_id", "status"])
        except (RedisError, OSError) as exc:
            raise StoreUnavailable(f"ticket store: {exc}") from exc
        resident, status = found
        if resident is None:
            return None
        return TicketRef(tid, UserId(resident), status == Status.RESOLVED)

    async def open_direct(self, target: str, user_id: str) -> TicketId | None:
        tid: Any = await self._r.hget(self._k("ticket", "open"), message_field(target, user_id))
        return TicketId(tid) if tid else None

    async def latest_open(self, target: str, user_id: str) -> TicketId | None:
        """The resident's newest ticket in this chat, if it is still open."""
        try:
            tid: Any = await self._r.hget(
                self._k("ticket", "latest"), message_field(target, user_id)
            )
            if tid is None:
                return None
            status: Any = await self._r.hget(self._k("ticket", tid), "status")
        except (RedisError, OSError) as exc:
            raise StoreUnavailable(f"ticket store: {exc}") from exc
        return TicketId(tid) if status in OPEN_STATUSES else None

    async def edited_ticket(self, target: str, edit_of: str) -> TicketId | None:
        where: Any = await self._r.hget(self._k("ticket", "bymsg"), message_field(target, edit_of))
        return TicketId(where.rsplit("#", 1)[0]) if where else None

    async def remember_bot_messages(
        self, tid: TicketId, target: str, message_ids: list[str]
    ) -> None:
        """Palm's sends for a ticket: a resident replying to one is a follow-up."""
        if message_ids:
            await self._r.hset(
                self._k("ticket", "botmsg"),
                mapping={message_field(target, m): tid for m in message_ids},
            )

    # --- staff -----------------------------------------------------------------
    async def claim(self, tid: TicketId, actor: str, *, force: bool) -> str:
        """Returns the previous assignee ('' if none). ``Conflict`` if someone else holds it."""
        out = await self._run(self._claim, tid, actor, "1" if force else "0", repr(time.time()))
        if out[0] == "missing":
            raise no_ticket(tid)
        if out[0] == "resolved":
            raise Conflict(f"{tid} is resolved", zh=f"{tid} 已经解决了，不能再认领")
        if out[0] == "conflict":
            # Staff rooms say "already claimed by" themselves; this is the console's word.
            raise Conflict(
                f"{tid} is claimed by {out[1]}; use --force to take it over",
                zh=f"{tid} 已由 {out[1]} 认领；如要接手，"
                "请在工单页勾选「强制（接手）」再点「认领」",
            )
        return str(out[2])

    async def next_reply_number(self, tid: TicketId) -> int:
        """Allocate the number of the next staff reply (a crash leaves a harmless gap)."""
        try:
            return int(await self._r.hincrby(self._k("ticket", tid), "reply_seq", 1))
        except (RedisError, OSError) as exc:
            raise StoreUnavailable(f"ticket store: {exc}") from exc

    def record_reply_on(
        self, pipe: Pipeline, tid: TicketId, actor: str, outbound: dict[str, Any], number: int
    ) -> Awaitable[Any]:
        """Queue the reply's ticket change on ``pipe`` (a MULTI, beside its outbox item).

        Its result in the MULTI is (ok, number, seconds to first response or '').
        """
        body = json.dumps(outbound, ensure_ascii=False)
        args: list[str | int] = [self._k.prefix, tid, actor, body, repr(time.time()), number]
        return cast("Awaitable[Any]", self._reply(keys=[], args=args, client=pipe))

    def record_resolve_on(
        self, pipe: Pipeline, tid: TicketId, actor: str, note: str, outbound: dict[str, Any]
    ) -> Awaitable[Any]:
        """Queue the resolution on ``pipe``. Its result is (ok, delivery id) | (resolved,)."""
        body = json.dumps(outbound, ensure_ascii=False)
        args = [self._k.prefix, tid, actor, note, body, repr(time.time())]
        return cast("Awaitable[Any]", self._resolve(keys=[], args=args, client=pipe))

    async def record_delivery(
        self, tid: TicketId, delivery_id: str, result: dict[str, Any]
    ) -> None:
        """Merge a delivery's final result into the ticket's record of what was sent."""
        key = self._k("ticket", tid, "outbound")
        raw = await self._r.hget(key, delivery_id)
        entry: dict[str, Any] = json.loads(raw) if raw else {"delivery_id": delivery_id}
        entry.update(result)
        await self._r.hset(key, delivery_id, json.dumps(entry, ensure_ascii=False))

    # --- reads -----------------------------------------------------------------
    async def get(self, tid: TicketId) -> Ticket:
        h: Any = await self._r.hgetall(self._k("ticket", tid))
        if not h:
            raise no_ticket(tid)
        return Ticket.from_hash(h)

    async def detail(self, tid: TicketId) -> dict[str, Any]:
        ticket = await self.get(tid)
        pipe = self._r.pipeline(transaction=False)
        pipe.lrange(self._k("ticket", tid, "messages"), 0, -1)
        pipe.lrange(self._k("ticket", tid, "history"), 0, -1)
        pipe.hgetall(self._k("ticket", tid, "outbound"))
        messages, hist, outbound = await pipe.execute()
        return {
            **ticket.to_json(),
            "conversation": [json.loads(m) for m in messages],
            "history": [json.loads(h) for h in hist],
            "outbound": sorted(
                (json.loads(v) for v in outbound.values()), key=lambda o: o.get("at", 0)
            ),
        }

    def index_key(self, status: str | None, kind: str | None) -> str:
        parts: list[str] = ["tickets", "idx", status or "all"]
        if kind:
            parts += ["kind", kind]
        return self._k(*parts)

    async def list(
        self,
        *,
        status: str | None = None,
        kind: str | None = None,
        limit: int = 50,
        cursor: str | None = None,
        within: Collection[str] | None = None,
    ) -> tuple[list[Ticket], str | None]:
        """One page, urgent first then oldest, and the cursor of the next page (or None).

        ``within``: only tickets from these chats (a scope), read from the index
        narrowed in Redis (``gateway.funnel.bytarget``), so the cost follows the scope's
        tickets, not the whole queue.
        """
        if status is not None and status not in {s.value for s in Status}:
            raise InputError(
                f"status: expected new, claimed or resolved, got {status!r}",
                zh=f"状态应为 new、claimed 或 resolved，而不是「{visible(status, one_line=True)}」",
            )
        if kind is not None and kind not in {k.value for k in TicketKind}:
            raise InputError(
                f"kind: expected report, reply or message, got {kind!r}",
                zh=f"类型应为 report、reply 或 message，而不是「{visible(kind, one_line=True)}」",
            )
        if not 1 <= limit <= 500:
            raise InputError("limit: must be between 1 and 500", zh="limit 应在 1 到 500 之间")
        key = self.index_key(status, kind)
        after = _decode_cursor(cursor) if cursor else None
        if within is None:
            return await self._page(await self._rows_after(key, after, limit + 1), limit)
        # A wide scope: walk the index and stop at a full page. A narrow one: let Redis
        # intersect the index with the scope's tickets (bounded by the scope, not the queue).
        walked = await walk_scope(self._r, self._k, key, within, after, limit + 1)
        if walked is not None:
            return await self._page(walked, limit)
        async with ScopedIndexes(self._r, self._k, within) as scoped:
            ((narrowed, _),) = await scoped.narrow(key)
            return await self._page(await self._rows_after(narrowed, after, limit + 1), limit)

    async def _page(
        self, rows: builtins.list[tuple[str, float]], limit: int
    ) -> tuple[builtins.list[Ticket], str | None]:
        """``rows``: up to ``limit + 1`` index entries; one more than a page means more."""
        page = rows[:limit]
        tickets = [Ticket.from_hash(h) for h in await self._hashes([m for m, _ in page]) if h]
        more = len(rows) > limit
        next_cursor = _encode_cursor(page[-1][1], page[-1][0]) if more and page else None
        return tickets, next_cursor

    async def _rows_after(
        self, key: str, after: tuple[float, str] | None, n: int
    ) -> builtins.list[tuple[str, float]]:
        """Up to ``n`` index entries after ``after`` (score, member), in index order."""
        if after is None:
            raw: Any = await self._r.zrange(key, 0, n - 1, withscores=True)
            return [(str(m), float(s)) for m, s in raw]
        score, last = after
        # Same-score members come in lexical order: skip those up to the last one.
        raw = await self._r.zrangebyscore(key, score, "+inf", start=0, num=n + 64, withscores=True)
        rows = [(str(m), float(s)) for m, s in raw if float(s) > score or str(m) > last]
        return rows[:n]

    async def _hashes(self, members: builtins.list[str]) -> builtins.list[Any]:
        pipe = self._r.pipeline(transaction=False)
        for member in members:
            pipe.hgetall(self._k("ticket", member))
        return list(await pipe.execute())
