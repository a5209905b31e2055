"""The ``flood:`` config section (``admission:`` itself is one top-level word)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

AdmissionMode = Literal["approve", "open"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Limit(_Strict):
    """At most ``limit`` events per rolling ``window_seconds``."""

    limit: Annotated[int, Field(ge=1, le=1_000_000)]
    window_seconds: Annotated[float, Field(gt=0, le=7 * 24 * 3600)]


class FloodConfig(_Strict):
    """The contract's defaults; a message over a limit is still stored on the
    resident's open ticket when there is one, but opens nothing and sends nothing."""

    tickets: Limit = Limit(limit=5, window_seconds=3600)
    """New tickets per resident."""
    messages: Limit = Limit(limit=30, window_seconds=600)
    """Inbound messages per resident (new tickets and follow-ups)."""
    acks: Limit = Limit(limit=1, window_seconds=60)
    """Acknowledgements per resident."""
    help: Limit = Limit(limit=1, window_seconds=60)
    """``/help`` and ``/start`` answers per chat."""
