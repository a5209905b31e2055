"""Operations config: ``takeover:`` (how fast a crashed process's work is taken over)
and ``redis.sentinel`` (issue 16)."""

from __future__ import annotations

import os
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator


class TakeoverConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    same_host: bool = True
    """Take over at once from a process of this host that is gone (pid check)."""
    telegram_lease_seconds: Annotated[float, Field(ge=5)] | None = None
    """The poll lease, i.e. how long a process on another host waits for a silent
    holder. Default ``(poll_timeout + 4) x 4/3 + 1`` s, at least 30 s."""
    funnel_claim_idle_seconds: Annotated[float, Field(gt=0)] = 30.0
    """A funnel entry pending this long with its consumer silent is taken over."""


class SentinelConfig(BaseModel):
    """``redis.sentinel``: find (and follow) the primary through Redis Sentinel."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    service: str
    """The name the sentinels monitor (``sentinel monitor NAME ...``)."""
    nodes: Annotated[list[str], Field(min_length=1)]
    """The sentinels, ``HOST:PORT`` each."""
    password_env: str | None = None
    """Environment variable with the password of the Redis servers (not the sentinels)."""
    password: SecretStr | None = Field(default=None, exclude=True)

    @field_validator("nodes")
    @classmethod
    def _host_port(cls, v: list[str]) -> list[str]:
        for node in v:
            host, sep, port = node.rpartition(":")
            if not sep or not host or not port.isdigit():
                raise ValueError(f"expected HOST:PORT, got {node!r}")
        return v

    @model_validator(mode="after")
    def _resolve(self) -> SentinelConfig:
        if self.password_env is not None:
            value = os.environ.get(self.password_env)
            if not value:
                raise ValueError(f"[password_env] environment variable {self.password_env} "
                                 "is not set")  # fmt: skip
            object.__setattr__(self, "password", SecretStr(value))
        return self

    def addresses(self) -> list[tuple[str, int]]:
        out = []
        for node in self.nodes:
            host, _, port = node.rpartition(":")
            out.append((host.strip("[]"), int(port)))
        return out
