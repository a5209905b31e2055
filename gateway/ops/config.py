"""``takeover:``: how fast a crashed process's work is taken over (issue 16)."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field


class TakeoverConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    same_host: bool = True
    """Take over at once from a process of this host that is gone (pid check)."""
    telegram_lease_seconds: Annotated[float, Field(ge=5)] | None = None
    """The poll lease, i.e. how long a process on another host waits for a silent
    holder. Default ``(poll_timeout + 4) x 4/3 + 1`` s, at least 30 s."""
    funnel_claim_idle_seconds: Annotated[float, Field(gt=0)] = 30.0
    """A funnel entry pending this long with its consumer silent is taken over."""
