"""Helpers to drive a real Synapse from tests: register users, make rooms, read them back.

Everything speaks the plain client-server API through aiohttp, independent of the
adapter under test (which uses matrix-nio), so a test reads what really is in a room.
User names carry a random suffix, so runs on the same Synapse never collide.
"""

from __future__ import annotations

import hashlib
import hmac
import uuid
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import aiohttp

_TIMEOUT = aiohttp.ClientTimeout(total=30)


class SynapseError(RuntimeError):
    def __init__(self, status: int, body: Any) -> None:
        super().__init__(f"HTTP {status}: {body}")
        self.status = status
        self.body = body


async def _request(
    method: str, url: str, *, token: str | None = None, json: Any = None
) -> dict[str, Any]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with (
        aiohttp.ClientSession(timeout=_TIMEOUT) as session,
        session.request(method, url, json=json, headers=headers) as resp,
    ):
        body = await resp.json(content_type=None)
        if resp.status >= 400:
            raise SynapseError(resp.status, body)
        return dict(body)


def unique_name(stem: str) -> str:
    return f"{stem}{uuid.uuid4().hex[:10]}"


@dataclass(frozen=True, slots=True)
class Synapse:
    """A running homeserver and its registration shared secret."""

    url: str
    shared_secret: str = field(repr=False)
    server_name: str = "localhost"

    def mxid(self, localpart: str) -> str:
        return f"@{localpart}:{self.server_name}"

    async def register(
        self, localpart: str, password: str = "pw-test-1", *, admin: bool = False
    ) -> User:
        """Register through ``/_synapse/admin/v1/register`` (shared-secret HMAC-SHA1)."""
        endpoint = f"{self.url}/_synapse/admin/v1/register"
        nonce = (await _request("GET", endpoint))["nonce"]
        mac = hmac.new(self.shared_secret.encode(), digestmod=hashlib.sha1)
        mac.update(
            b"\x00".join(
                [
                    nonce.encode(),
                    localpart.encode(),
                    password.encode(),
                    b"admin" if admin else b"notadmin",
                ]
            )
        )
        body = await _request(
            "POST",
            endpoint,
            json={
                "nonce": nonce,
                "username": localpart,
                "password": password,
                "admin": admin,
                "mac": mac.hexdigest(),
            },
        )
        return User(self, body["user_id"], body["access_token"], body["device_id"], password)


@dataclass(frozen=True, slots=True)
class User:
    """A resident (or admin) talking to Synapse with plain HTTP."""

    synapse: Synapse
    user_id: str
    token: str = field(repr=False)
    device_id: str
    password: str = field(repr=False)

    def _url(self, path: str) -> str:
        return f"{self.synapse.url}/_matrix/client/v3{path}"

    async def call(self, method: str, path: str, body: Any = None) -> dict[str, Any]:
        return await _request(method, self._url(path), token=self.token, json=body)

    async def create_room(
        self,
        *,
        invite: list[str] | None = None,
        name: str | None = None,
        is_direct: bool = False,
        encrypted: bool = False,
    ) -> str:
        body: dict[str, Any] = {
            "preset": "trusted_private_chat" if is_direct else "private_chat",
            "invite": invite or [],
            "is_direct": is_direct,
        }
        if name:
            body["name"] = name
        if encrypted:
            body["initial_state"] = [
                {
                    "type": "m.room.encryption",
                    "state_key": "",
                    "content": {"algorithm": "m.megolm.v1.aes-sha2"},
                }
            ]
        return str((await self.call("POST", "/createRoom", body))["room_id"])

    async def invite(self, room_id: str, user_id: str) -> None:
        await self.call("POST", f"/rooms/{quote(room_id)}/invite", {"user_id": user_id})

    async def join(self, room_id: str) -> None:
        await self.call("POST", f"/join/{quote(room_id)}", {})

    async def kick(self, room_id: str, user_id: str, reason: str = "test") -> None:
        await self.call(
            "POST", f"/rooms/{quote(room_id)}/kick", {"user_id": user_id, "reason": reason}
        )

    async def send(
        self,
        room_id: str,
        body: str,
        *,
        reply_to: str | None = None,
        msgtype: str = "m.text",
        extra: dict[str, Any] | None = None,
    ) -> str:
        content: dict[str, Any] = {"msgtype": msgtype, "body": body}
        if reply_to:
            content["m.relates_to"] = {"m.in_reply_to": {"event_id": reply_to}}
        content.update(extra or {})
        txn = uuid.uuid4().hex
        path = f"/rooms/{quote(room_id)}/send/m.room.message/{txn}"
        return str((await self.call("PUT", path, content))["event_id"])

    async def members(self, room_id: str) -> dict[str, str]:
        """user id -> membership."""
        body = await self.call("GET", f"/rooms/{quote(room_id)}/members")
        return {e["state_key"]: e["content"]["membership"] for e in body["chunk"]}

    async def messages(self, room_id: str, *, limit: int = 1000) -> list[dict[str, Any]]:
        """Every ``m.room.message`` event in the room, oldest first (pages backwards)."""
        events: list[dict[str, Any]] = []
        token: str | None = None
        while True:
            path = f"/rooms/{quote(room_id)}/messages?dir=b&limit=100"
            if token:
                path += f"&from={quote(token)}"
            page = await self.call("GET", path)
            events += [e for e in page.get("chunk", []) if e.get("type") == "m.room.message"]
            token = page.get("end")
            if not token or not page.get("chunk") or len(events) >= limit:
                break
        events.reverse()
        return events

    async def override_ratelimit(self, user_id: str, per_second: int = 0, burst: int = 0) -> None:
        """As an admin: lift (0/0) or set another user's message rate limit."""
        url = f"{self.synapse.url}/_synapse/admin/v1/users/{quote(user_id)}/override_ratelimit"
        await _request(
            "POST",
            url,
            token=self.token,
            json={"messages_per_second": per_second, "burst_count": burst},
        )
