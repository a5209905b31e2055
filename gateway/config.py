"""The config's sections: pydantic models, validated once at start.

``gateway.config_load.load_config`` reads the file into ``GatewayConfig``; a check
here fails as a ``ValueError`` that it reports with the file and key path (a leading
``[sub_key] `` in the message names a key below the model's, as ``_secret_from`` does).
Secrets are ``SecretStr`` and never show in ``repr``, logs or messages.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationInfo,
    field_validator,
    model_validator,
)

from gateway.admission.config import AdmissionMode, FloodConfig
from gateway.confirm.config import ConfirmConfig
from gateway.errors import InputError
from gateway.households.config import HouseholdsConfig
from gateway.ops.config import SentinelConfig, TakeoverConfig
from gateway.safety.secrets import split_password
from gateway.staffroom.config import StaffRoomConfig
from gateway.tags import validate_tag


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


ALL_PLATFORMS = frozenset({"telegram", "matrix"})


def _needs_secrets(info: ValidationInfo, platform: str) -> bool:
    """Whether this load must resolve ``platform``'s secrets (``load_config(secrets=...)``).

    Commands that never talk to a platform load the config without its secrets, so
    ``palm tickets list`` works in a shell that has no bot token.
    """
    wanted = (info.context or {}).get("secrets", ALL_PLATFORMS)
    return platform in wanted


def _secret_from(
    inline: SecretStr | None,
    env: str | None,
    *,
    inline_key: str,
    env_key: str,
    required: bool,
    resolve: bool = True,
) -> SecretStr | None:
    """Resolve a secret given inline or by environment variable name.

    With ``resolve`` false an unset variable is no error (the secret stays ``None``).
    """
    if inline is not None and env is not None:
        raise ValueError(f"give either {inline_key} or {env_key}, not both")
    if env is not None:
        value = os.environ.get(env)
        if not value:
            if not resolve:
                return None
            raise ValueError(f"[{env_key}] environment variable {env} is not set")
        return SecretStr(value)
    if inline is None and required:
        raise ValueError(f"[{env_key}] is required (or {inline_key})")
    return inline


class RedisConfig(_Strict):
    url: str | None = None
    """``redis://`` or ``unix://`` URL. Omit it for the embedded server under ``data_dir``.
    A password in it (``redis://:PW@host`` or ``?password=PW``) is moved to ``password``
    on load, so ``url`` can be shown and logged as it is."""
    password: SecretStr | None = None
    """Held as a secret: masked in ``repr``, logs and error messages."""
    password_env: str | None = None
    """Or the name of the environment variable holding the password."""
    prefix: str = "palm:"
    """Every key palm writes starts with this."""
    sentinel: SentinelConfig | None = None
    """Find the primary through Redis Sentinel instead of ``url`` (and follow failovers)."""
    replica_acks: Annotated[int, Field(ge=0, le=16)] = 0
    """Wait (Redis ``WAIT``) for this many replicas before confirming an inbound update
    to a platform and after recording a send, so a failover loses nothing confirmed."""

    @model_validator(mode="after")
    def _one_source(self) -> RedisConfig:
        if self.url is not None and self.sentinel is not None:
            raise ValueError("give either url or sentinel, not both")
        return self

    @model_validator(mode="before")
    @classmethod
    def _password_out_of_url(cls, data: Any) -> Any:
        if isinstance(data, dict) and isinstance(data.get("url"), str):
            url, password = split_password(data["url"])
            if password is not None:
                if data.get("password") is not None:
                    raise ValueError("give the password in url or in password, not both")
                data = {**data, "url": url, "password": password}
        return data

    @model_validator(mode="after")
    def _resolve(self) -> RedisConfig:
        if self.password_env is not None or self.password is not None:
            password = _secret_from(
                self.password, self.password_env,
                inline_key="password (or in url)", env_key="password_env", required=False,
            )  # fmt: skip
            object.__setattr__(self, "password", password)
        return self

    @field_validator("url")
    @classmethod
    def _scheme(cls, v: str | None) -> str | None:
        if v is not None and not re.match(r"^(redis|rediss|unix)://", v):
            raise ValueError("must start with redis://, rediss:// or unix://")
        return v


class HttpConfig(_Strict):
    listen: str = "127.0.0.1:8080"

    @field_validator("listen")
    @classmethod
    def _host_port(cls, v: str) -> str:
        host, sep, port = v.rpartition(":")
        if not sep or not host or not port.isdigit() or not 0 <= int(port) <= 65535:
            raise ValueError(f"expected HOST:PORT, got {v!r}")
        return v

    @property
    def host(self) -> str:
        return self.listen.rpartition(":")[0].strip("[]")

    @property
    def port(self) -> int:
        return int(self.listen.rpartition(":")[2])


class LogConfig(_Strict):
    level: Literal["debug", "info", "warning", "error"] = "info"
    format: Literal["text", "json"] = "text"


class TelegramWebhookConfig(_Strict):
    path: str = "/telegram/webhook"
    secret_env: str | None = None
    secret: SecretStr | None = None

    @model_validator(mode="after")
    def _resolve(self, info: ValidationInfo) -> TelegramWebhookConfig:
        resolve = _needs_secrets(info, "telegram")
        resolved = _secret_from(
            self.secret, self.secret_env, inline_key="secret", env_key="secret_env",
            required=resolve, resolve=resolve,
        )  # fmt: skip
        object.__setattr__(self, "secret", resolved)
        return self


class TelegramConfig(_Strict):
    token_env: str | None = None
    token: SecretStr | None = None
    base_url: str = "https://api.telegram.org/bot"
    base_file_url: str | None = None
    mode: Literal["polling", "webhook"] = "polling"
    poll_timeout: Annotated[int, Field(ge=0, le=50)] = 25
    webhook: TelegramWebhookConfig | None = None
    ambiguous_policy: Literal["resend", "fail"] = "resend"
    """After a timeout that may have delivered: resend (a possible duplicate, counted)
    or fail the delivery as ambiguous."""
    paid_broadcast: Literal["off", "urgent", "all"] = "off"
    """Which sends carry ``allow_paid_broadcast`` (1,000 msg/s, 0.1 Star each): see
    ``adapters.telegram.paid``."""

    @field_validator("paid_broadcast", mode="before")
    @classmethod
    def _yaml_off(cls, v: object) -> object:
        # YAML 1.1 reads an unquoted `off` as false: take it as the "off" it was meant as.
        return "off" if v is False else v

    @model_validator(mode="after")
    def _resolve(self, info: ValidationInfo) -> TelegramConfig:
        resolve = _needs_secrets(info, "telegram")
        token = _secret_from(
            self.token, self.token_env, inline_key="token", env_key="token_env",
            required=resolve, resolve=resolve,
        )  # fmt: skip
        object.__setattr__(self, "token", token)
        if self.mode == "webhook" and self.webhook is None:
            raise ValueError("mode: webhook needs a webhook: {secret_env: ...} section")
        return self


class MatrixRateConfig(_Strict):
    messages_per_second: Annotated[float, Field(gt=0)] | None = None
    burst: Annotated[int, Field(ge=1)] = 10


class MatrixE2EConfig(_Strict):
    """End-to-end encrypted rooms (matrix-nio's ``e2e`` extra, vodozemac)."""

    enabled: bool = True
    trust: Literal["tofu", "verified"] = "tofu"
    """``tofu``: room keys go to every device of the room's members; ``verified``: a send
    to a room with an unverified device fails instead."""
    store_dir: Path | None = None
    """nio's SQLite crypto store; default ``data_dir/matrix-crypto``. Back it up."""
    owner_lease_seconds: Annotated[float, Field(ge=2, le=600)] = 30.0
    """One process owns the device and its store; another takes over this long after
    the owner stops renewing (a crash)."""


class MatrixConfig(_Strict):
    homeserver: str
    user_id: str
    access_token_env: str | None = None
    access_token: SecretStr | None = None
    password_env: str | None = None
    password: SecretStr | None = None
    device_name: str = "palm-gateway"
    auto_join: Literal["any", "same_server"] | list[str] = "same_server"
    rate: MatrixRateConfig = MatrixRateConfig()
    sync_timeout_ms: Annotated[int, Field(ge=0, le=120_000)] = 30_000
    e2e: MatrixE2EConfig = MatrixE2EConfig()

    @field_validator("user_id")
    @classmethod
    def _mxid(cls, v: str) -> str:
        if not re.match(r"^@[^:]+:.+$", v):
            raise ValueError(f"expected a Matrix user id like @palm:example.org, got {v!r}")
        return v

    @model_validator(mode="after")
    def _resolve(self, info: ValidationInfo) -> MatrixConfig:
        resolve = _needs_secrets(info, "matrix")
        token = _secret_from(
            self.access_token,
            self.access_token_env,
            inline_key="access_token",
            env_key="access_token_env",
            required=False,
            resolve=resolve,
        )
        password = _secret_from(
            self.password,
            self.password_env,
            inline_key="password",
            env_key="password_env",
            required=False,
            resolve=resolve,
        )
        named = any(
            v is not None
            for v in (self.access_token, self.access_token_env, self.password, self.password_env)
        )
        if token is None and password is None and (resolve or not named):
            raise ValueError("give access_token_env (or password_env for a first login)")
        object.__setattr__(self, "access_token", token)
        object.__setattr__(self, "password", password)
        return self


class PlatformsConfig(_Strict):
    telegram: TelegramConfig | None = None
    matrix: MatrixConfig | None = None


class TargetSeed(_Strict):
    id: str
    tags: list[str] = []
    title: str | None = None
    kind: Literal["group", "direct"] = "group"

    @field_validator("id")
    @classmethod
    def _target_id(cls, v: str) -> str:
        if not re.match(r"^(telegram|matrix):.+$", v):
            raise ValueError(f"expected telegram:<chat_id> or matrix:<room_id>, got {v!r}")
        return v

    @field_validator("tags")
    @classmethod
    def _tags(cls, v: list[str]) -> list[str]:
        try:
            return [validate_tag(tag) for tag in v]
        except InputError as exc:
            raise ValueError(exc.message) from None


class OutboxConfig(_Strict):
    workers: Annotated[int, Field(ge=1, le=256)] = 16
    retry_deadline_seconds: Annotated[float, Field(gt=0)] = 3600.0
    max_attempts: Annotated[int, Field(ge=1)] = 8
    """A delivery whose send began this many times and never finished (its worker
    died mid-send each time) is dead-lettered. Deliveries a dying worker merely held do
    not count; as a backstop, 3 x this many takes that never reached a send also
    dead-letter it."""
    claim_idle_seconds: Annotated[float, Field(gt=0)] = 30.0
    """A delivery in flight this long without its worker is taken over by another."""
    keep_days: Annotated[float, Field(ge=0)] = 0.0
    """An announcement older than this many days, once out, loses its per-chat delivery
    records (about 0.7 KB of Redis each; its counts, audience and replies stay, and it
    can no longer be edited or recalled). 0 keeps them for ever."""


class GatewayConfig(_Strict):
    data_dir: Path = Path("./var")
    redis: RedisConfig = RedisConfig()
    http: HttpConfig = HttpConfig()
    locale: Literal["zh", "en"] = "zh"
    log: LogConfig = LogConfig()
    platforms: PlatformsConfig = PlatformsConfig()
    targets: list[TargetSeed] = []
    outbox: OutboxConfig = OutboxConfig()
    staff_rooms: list[StaffRoomConfig] = []
    admission: AdmissionMode = "approve"
    """New groups and rooms wait for an admin (``approve``) or are used at once (``open``)."""
    flood: FloodConfig = FloodConfig()
    takeover: TakeoverConfig = TakeoverConfig()
    households: HouseholdsConfig = HouseholdsConfig()
    confirmations: ConfirmConfig = ConfirmConfig()
    rules_file: Path = Path("config/rules.yaml")
    templates_file: Path = Path("config/templates.yaml")

    source: Path | None = Field(default=None, exclude=True)
    """The file this was loaded from (set by ``load_config``)."""
