"""Decrypt before normalising: a sync body's encrypted events become cleartext events.

An event without its key yet is kept as it is in the body (the normaliser ignores
``m.room.encrypted``) and handed back as ``Pending``; the sync loop stores those
durably before the token moves on, and ``retry`` decrypts them once a key arrives.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping, Sequence
from typing import Any

from adapters.matrix.crypto import ENCRYPTED_TYPE, Crypto
from adapters.matrix.pending import Pending, PendingStore
from gateway import metrics

log = logging.getLogger(__name__)


RETRY_EVERY = 30.0
"""Kept events are retried at once when to-device messages (room keys) came in, and
at least this often otherwise (a key imported some other way)."""
GIVE_UP_AFTER = 7 * 24 * 3600.0
"""A kept event whose key has not come in a week never will (e.g. sent before the bot
joined, to devices it was not among): dropped, with an error in the log."""


class Decryptor:
    def __init__(self, crypto: Crypto, pending: PendingStore, me: str) -> None:
        self.crypto = crypto
        self.pending = pending
        self._me = me
        self._last_retry = 0.0

    def retry_due(self, body: Mapping[str, Any]) -> bool:
        to_device = body.get("to_device")
        came = isinstance(to_device, Mapping) and bool(to_device.get("events"))
        return came or time.monotonic() - self._last_retry >= RETRY_EVERY

    def clear_events(
        self, room_id: str, events: Sequence[Mapping[str, Any]]
    ) -> tuple[list[Mapping[str, Any]], list[Pending]]:
        """``events`` with every decryptable one replaced; the others as ``Pending``."""
        out: list[Mapping[str, Any]] = []
        waiting: list[Pending] = []
        for ev in events:
            # Our own events come back too; they are never tickets: not even decrypted.
            mine = ev.get("sender") == self._me
            if ev.get("type") != ENCRYPTED_TYPE or "state_key" in ev or mine:
                out.append(ev)
                continue
            clear = self.crypto.decrypt(room_id, ev)
            if clear is not None:
                out.append(clear)
                continue
            out.append(ev)
            if isinstance(ev.get("event_id"), str):
                waiting.append(Pending(room_id, ev))
        return out, waiting

    def clear_body(self, body: dict[str, Any]) -> tuple[dict[str, Any], list[Pending]]:
        """The sync body with its joined rooms' timelines decrypted where possible."""
        rooms = body.get("rooms")
        joined = rooms.get("join") if isinstance(rooms, dict) else None
        if not isinstance(joined, dict):
            return body, []
        waiting: list[Pending] = []
        for room_id, room in joined.items():
            timeline = room.get("timeline") if isinstance(room, dict) else None
            events = timeline.get("events") if isinstance(timeline, dict) else None
            if not isinstance(room_id, str) or not isinstance(events, list):
                continue
            evs = [e for e in events if isinstance(e, Mapping)]
            if not any(e.get("type") == ENCRYPTED_TYPE for e in evs):
                continue
            cleared, pend = self.clear_events(room_id, evs)
            assert isinstance(timeline, dict)  # events came from it
            timeline["events"] = cleared
            waiting += pend
        return body, waiting

    async def keep(self, waiting: Sequence[Pending]) -> None:
        """Store undecryptable events durably (before the sync token moves past them)."""
        if not waiting:
            return
        added = await self.pending.add(waiting)
        if added:
            metrics.MATRIX_UNDECRYPTABLE.inc(added)
            log.warning("matrix e2e: %d event(s) cannot be decrypted yet; kept", added)
        for p in waiting:
            await self.crypto.request_key(p.room_id, p.event)

    async def retry(self) -> list[tuple[Pending, Mapping[str, Any]]]:
        """Kept events that can be decrypted now, with their cleartext (oldest first)."""
        self._last_retry = time.monotonic()
        found = await self.pending.load()
        done: list[tuple[Pending, Mapping[str, Any]]] = []
        expired: list[str] = []
        for p in found:
            clear = self.crypto.decrypt(p.room_id, p.event)
            if clear is not None:
                done.append((p, clear))
            elif 0 < _ts(p.event) < (time.time() - GIVE_UP_AFTER) * 1000:
                expired.append(p.event_id)
            else:
                await self.crypto.request_key(p.room_id, p.event)
        if expired:
            log.error(
                "matrix e2e: giving up on %d event(s) whose room key never came: %s",
                len(expired),
                ", ".join(expired[:10]),
            )
            await self.pending.remove(expired)
        done.sort(key=lambda pc: _ts(pc[0].event))
        return done


def _ts(ev: Mapping[str, Any]) -> float:
    ts = ev.get("origin_server_ts")
    return float(ts) if isinstance(ts, int | float) else 0.0
