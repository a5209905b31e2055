"""Loading the config file: YAML in, one validated ``GatewayConfig`` out.

``load_config`` is the only entry point. Every problem comes out as one
``ConfigError`` naming the file and the key path, e.g.
``palm.yaml: platforms.telegram.token_env: environment variable TELEGRAM_BOT_TOKEN is not set``.
The sections' models and their checks are in ``gateway.config``.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from gateway.config import ALL_PLATFORMS, GatewayConfig
from gateway.errors import ConfigError

DEFAULT_CONFIG_NAME = "palm.yaml"
CONFIG_ENV = "PALM_CONFIG"


def resolve_config_path(explicit: str | os.PathLike[str] | None) -> Path:
    """``-c`` wins, then ``$PALM_CONFIG``, then ``./palm.yaml``."""
    if explicit:
        return Path(explicit)
    env = os.environ.get(CONFIG_ENV)
    if env:
        return Path(env)
    return Path(DEFAULT_CONFIG_NAME)


def _key_path(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + part
    return out or "(top level)"


_SUBKEY = re.compile(r"^\[(\w+)\] ")
MAX_LISTED = 20
"""Problems listed one per line; a file with more is mostly wrong anyway."""


def _describe(err: Any) -> tuple[str, str | None]:
    """The message, and a sub-key when a model-level check names one (``[token_env] ...``)."""
    if err.get("type", "") == "extra_forbidden":
        return "unknown key", None
    msg = str(err.get("msg", "invalid")).removeprefix("Value error, ")
    if m := _SUBKEY.match(msg):
        return msg[m.end() :], m.group(1)
    return msg, None


def _problem(err: Any) -> tuple[str, str]:
    """(key path, message) of one validation error."""
    message, subkey = _describe(err)
    return _key_path(tuple(err["loc"]) + ((subkey,) if subkey else ())), message


def _surrogate_at(data: Any) -> str | None:
    """The key path of the first string (key or value) holding a lone surrogate."""
    stack: list[tuple[tuple[int | str, ...], Any]] = [((), data)]
    while stack:
        path, value = stack.pop()
        if isinstance(value, str):
            try:
                value.encode("utf-8")
            except UnicodeEncodeError:
                return _key_path(path)
        elif isinstance(value, dict):
            stack += [(path, k) for k in value]
            stack += [((*path, str(k)), v) for k, v in value.items()]
        elif isinstance(value, list):
            stack += [((*path, i), v) for i, v in enumerate(value)]
    return None


def load_config(
    path: str | os.PathLike[str] | None = None, *, secrets: frozenset[str] = ALL_PLATFORMS
) -> GatewayConfig:
    """Read and validate the config file; raise one ``ConfigError`` naming file and key.

    ``secrets`` names the platforms whose secrets must resolve (a missing environment
    variable is an error); the others' secrets are left ``None`` when unset.
    """
    file = resolve_config_path(path)
    name = str(file)
    try:
        raw = file.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError("config file not found", file=name) from None
    except UnicodeDecodeError as exc:
        raise ConfigError(f"not valid UTF-8 (byte {exc.start})", file=name) from None
    except OSError as exc:
        raise ConfigError(f"cannot read: {exc.strerror}", file=name) from None
    try:
        data = yaml.safe_load(raw)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}: " if mark is not None else ""
        problem = getattr(exc, "problem", None) or "not valid YAML"
        raise ConfigError(f"{where}{problem}", file=name) from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError("the top level must be a mapping of keys", file=name)
    if (bad_key := _surrogate_at(data)) is not None:
        # YAML's "\ud800" escape makes a string no Redis key or value can hold.
        raise ConfigError("a lone surrogate (\\ud800-\\udfff) is not text", file=name, key=bad_key)
    try:
        cfg = GatewayConfig.model_validate(data, context={"secrets": secrets})
    except ValidationError as exc:
        # Every problem, each at its key, so one run tells the operator all there is
        # to fix (the first one also names the error's ``key``).
        found = [_problem(err) for err in exc.errors(include_input=False)]
        (key, message), rest = found[0], found[1:MAX_LISTED]
        more = [f"{k}: {m}" for k, m in rest]
        if len(found) > MAX_LISTED:
            more.append(f"… and {len(found) - MAX_LISTED} more")
        raise ConfigError(message, file=name, key=key, more=tuple(more)) from None
    # Relative paths in the file are relative to the file, so `palm -c /etc/palm.yaml`
    # works from any directory.
    base = file.resolve().parent
    updates: dict[str, Any] = {"source": file.resolve()}
    for field in ("data_dir", "rules_file", "templates_file"):
        value: Path = getattr(cfg, field)
        if not value.is_absolute() and (field == "data_dir" or (base / value).exists()):
            updates[field] = base / value
    return cfg.model_copy(update=updates)
