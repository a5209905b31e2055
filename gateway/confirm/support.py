"""What an adapter offers confirmations beyond the core ``Adapter`` protocol.

Matrix reacts ✅ under its own notice and lists a room's joined members; Telegram
counts a group's members (``getChatMemberCount``). Adapters implement these
structurally; the core checks with ``isinstance`` and does without when absent.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from gateway.models import PlatformMessageId, TargetId


@runtime_checkable
class Reacts(Protocol):
    async def react(
        self, target: TargetId, message_id: PlatformMessageId, key: str, idempotency_key: str
    ) -> None: ...


@runtime_checkable
class ListsMembers(Protocol):
    async def chat_members(self, target: TargetId) -> list[tuple[str, str]]:
        """``(user id, display name)`` of the chat's members, the bot excluded."""
        ...


@runtime_checkable
class CountsMembers(Protocol):
    async def member_count(self, target: TargetId) -> int:
        """How many members the chat has, the bot excluded."""
        ...
