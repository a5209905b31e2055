"""Kept undecryptable events on the real Redis: stored once, retried, given up after a week."""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from redis.asyncio import Redis

from adapters.matrix.decrypt import GIVE_UP_AFTER, Decryptor
from adapters.matrix.pending import Pending, PendingStore
from gateway.keys import Keys


class StubCrypto:
    """Decrypts only the events whose key "arrived" (their id is in ``keys``)."""

    def __init__(self) -> None:
        self.keys: set[str] = set()
        self.requested: list[str] = []

    def decrypt(self, room_id: str, raw: Mapping[str, Any]) -> dict[str, Any] | None:
        if raw["event_id"] not in self.keys:
            return None
        return {**raw, "type": "m.room.message", "content": {"msgtype": "m.text", "body": "hi"}}

    async def request_key(self, room_id: str, raw: Mapping[str, Any]) -> None:
        self.requested.append(str(raw["event_id"]))


def _event(event_id: str, ts_ms: float, sender: str = "@alice:x") -> dict[str, Any]:
    return {
        "type": "m.room.encrypted",
        "event_id": event_id,
        "sender": sender,
        "origin_server_ts": int(ts_ms),
        "content": {"algorithm": "m.megolm.v1.aes-sha2", "session_id": "s"},
    }


async def test_kept_retried_decrypted_and_given_up(redis: Redis, keys: Keys) -> None:
    crypto = StubCrypto()
    store = PendingStore(redis, keys, "@bot:x")
    dec = Decryptor(crypto, store, "@bot:x")  # type: ignore[arg-type]
    now = time.time() * 1000
    body = {
        "rooms": {
            "join": {
                "!r:x": {
                    "timeline": {
                        "events": [
                            _event("$late", now),
                            _event("$old", now - (GIVE_UP_AFTER + 60) * 1000),
                            _event("$mine", now, sender="@bot:x"),
                        ]
                    }
                }
            }
        }
    }
    _, waiting = dec.clear_body(body)
    assert [p.event_id for p in waiting] == ["$late", "$old"]  # never our own
    await dec.keep(waiting)
    await dec.keep(waiting)  # a re-fetched batch adds nothing
    assert await store.count() == 2
    assert set(crypto.requested) == {"$late", "$old"}

    assert await dec.retry() == []
    assert await store.count() == 1  # $old given up: its key never came in a week
    crypto.keys.add("$late")
    assert dec.retry_due({"to_device": {"events": [{"type": "m.room.encrypted"}]}})
    done = await dec.retry()
    assert [p.event_id for p, _ in done] == ["$late"]
    assert done[0][1]["type"] == "m.room.message"


async def test_store_keeps_unreadable_entries_out_of_the_way(redis: Redis, keys: Keys) -> None:
    store = PendingStore(redis, keys, "@bot:x")
    await redis.hset(keys("matrix", "@bot:x", "undecrypted"), "$bad", "not json")
    await store.add([Pending("!r:x", _event("$good", time.time() * 1000))])
    found = await store.load()
    assert [p.event_id for p in found] == ["$good"]
