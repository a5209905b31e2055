"""The ✅ button under a notice that must be read (pure; imported by announcements)."""

from __future__ import annotations

from gateway.models import Button

CONFIRM_DATA = "palm:confirm"
CONFIRM_LABEL = "✅ 已阅 Got it"
CHECK = "✅"
"""The reaction the bot puts under its Matrix notice, and the one residents add."""


def confirm_buttons() -> tuple[Button, ...]:
    """One button; platforms without buttons (Matrix) ignore it."""
    return (Button(CONFIRM_LABEL, CONFIRM_DATA),)
