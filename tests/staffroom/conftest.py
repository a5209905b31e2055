"""Staff-room tests drive `palm run` like tests/e2e (fake Bot API, real Synapse)."""

from __future__ import annotations

from typing import Any

from tests.e2e.conftest import fake_tg, make_palm
from tests.fakes.synapse import Synapse, User
from tests.matrix.conftest import admin, new_user, synapse

__all__ = ["admin", "fake_tg", "make_palm", "matrix_config", "new_user", "synapse"]


def matrix_config(synapse: Synapse, bot: User) -> dict[str, Any]:
    return {
        "homeserver": synapse.url, "user_id": bot.user_id,
        "password_env": "PALM_TEST_MATRIX_PASSWORD", "auto_join": "any", "sync_timeout_ms": 1000,
    }  # fmt: skip


def thread(root: str) -> dict[str, Any]:
    """A message in the thread of ``root`` (as Element sends it)."""
    return {
        "m.relates_to": {
            "rel_type": "m.thread",
            "event_id": root,
            "is_falling_back": True,
            "m.in_reply_to": {"event_id": root},
        }
    }
