"""``palm doctor``: one line per check, ok or what is wrong and how to fix it.

The core checks the config, Redis (and its persistence settings), the clock, the disk
under ``data_dir`` and the staff rooms; each platform adapter adds its own checks
through ``adapters.registry.doctor_checks`` (platform JSON never leaves its adapter).
"""

from __future__ import annotations

import enum
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from redis.exceptions import RedisError, ResponseError

from gateway.runtime import Runtime


class Level(enum.StrEnum):
    OK = "ok"
    WARN = "warn"
    FAIL = "FAIL"


@dataclass(frozen=True, slots=True)
class Finding:
    check: str
    level: Level
    message: str
    fix: str = ""

    def line(self) -> str:
        # Several problems (a config's) are one per line: the fix goes on its own.
        sep = "\n  " if "\n" in self.message else " — "
        fix = f"{sep}fix: {self.fix}" if self.fix else ""
        return f"{self.level.value:<4}  {self.check}: {self.message}{fix}"

    def to_json(self) -> dict[str, str]:
        return {"check": self.check, "level": self.level.value, "message": self.message,
                "fix": self.fix}  # fmt: skip


def ok(check: str, message: str) -> Finding:
    return Finding(check, Level.OK, message)


def warn(check: str, message: str, fix: str = "") -> Finding:
    return Finding(check, Level.WARN, message, fix)


def fail(check: str, message: str, fix: str = "") -> Finding:
    return Finding(check, Level.FAIL, message, fix)


# --- Redis ---------------------------------------------------------------------------
EVICTING = ("allkeys-lru", "allkeys-lfu", "allkeys-random")
"""Policies that may evict any key. ``volatile-*`` evicts keys with a TTL, which palm
uses for dedupe and leases: losing one early can duplicate a ticket or a poll."""


def redis_persistence(settings: dict[str, str]) -> list[Finding]:
    out: list[Finding] = []
    if settings.get("appendonly", "no") != "yes":
        out.append(warn(
            "redis persistence", "AOF is off: a Redis crash loses everything since the last "
            "snapshot, tickets and confirmed platform updates included",
            "appendonly yes and appendfsync everysec in redis.conf "
            "(now: redis-cli CONFIG SET appendonly yes)",
        ))  # fmt: skip
    else:
        out.append(ok("redis persistence", f"AOF on (appendfsync {settings.get('appendfsync')})"))
    policy = settings.get("maxmemory-policy", "noeviction")
    if policy in EVICTING or policy.startswith("volatile-"):
        out.append(warn(
            "redis memory", f"maxmemory-policy {policy} can evict palm's keys when memory "
            "is full (tickets, or dedupe keys: duplicate tickets)",
            "maxmemory-policy noeviction (palm then gets errors and retries, losing nothing)",
        ))  # fmt: skip
    else:
        out.append(ok("redis memory", f"maxmemory-policy {policy}"))
    return out


async def check_redis(rt: Runtime) -> list[Finding]:
    try:
        info: Any = await rt.redis.info("server")
        found = [ok("redis", f"answers (redis {info.get('redis_version', '?')})")]
    except (RedisError, OSError) as exc:
        return [fail("redis", f"does not answer: {exc}", "check redis.url and the server")]
    settings: dict[str, str] = {}
    try:
        for name in ("appendonly", "appendfsync", "maxmemory-policy"):
            got: Any = await rt.redis.config_get(name)
            settings.update({str(k): str(v) for k, v in got.items()})
    except ResponseError as exc:  # managed Redis often disables CONFIG
        return [
            *found,
            warn(
                "redis persistence",
                f"cannot read the settings: {exc}",
                "check AOF and maxmemory-policy noeviction with your provider",
            ),
        ]
    return found + redis_persistence(settings)


# --- the clock -------------------------------------------------------------------------
MAX_SKEW = 2.0


def clock_finding(local: float, redis_time: float) -> Finding:
    skew = local - redis_time
    if abs(skew) > MAX_SKEW:
        return fail(
            "clock", f"this host is {skew:+.1f} s off the Redis server's clock: ticket ages, "
            "send_at and rate windows disagree between processes",
            "run NTP on every host (timedatectl set-ntp true)",
        )  # fmt: skip
    return ok("clock", f"within {abs(skew):.2f} s of the Redis server")


async def check_clock(rt: Runtime) -> Finding:
    before = time.time()
    seconds, micros = await rt.redis.time()
    after = time.time()
    return clock_finding((before + after) / 2, seconds + micros / 1e6)


# --- disk ---------------------------------------------------------------------------------
MIN_FREE = 1 << 30  # 1 GiB
MIN_FREE_FAIL = 100 << 20


def check_disk(
    data_dir: Path, *, min_free: int = MIN_FREE, min_free_fail: int = MIN_FREE_FAIL
) -> Finding:
    probe = data_dir
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    free = shutil.disk_usage(probe).free
    what = f"{free / (1 << 30):.1f} GiB free under {data_dir}"
    if free < min_free_fail:
        return fail("disk", what, "free space: the embedded Redis's AOF needs room to grow")
    if free < min_free:
        return warn("disk", what, f"keep at least {min_free / (1 << 30):.1f} GiB free")
    return ok("disk", what)


# --- staff rooms ----------------------------------------------------------------------
async def check_staff_rooms(rt: Runtime) -> Finding:
    rooms = rt.config.staff_rooms
    if not rooms:
        return ok("staff rooms", "none configured")
    from gateway.targets import TargetDirectory

    ids = [room.target for room in rooms]
    known = {t.id: t for t in await TargetDirectory(rt.redis, rt.keys).many(ids)}
    missing = [i for i in ids if i not in known]
    inactive = [f"{t.id} ({t.reason})" for t in known.values() if t.state != "active"]
    if missing or inactive:
        return fail(
            "staff rooms",
            "; ".join([*(f"{i}: the bot is not in it" for i in missing), *inactive]),
            "add the bot to each staff room (Telegram group / Matrix invite)",
        )
    return ok("staff rooms", f"{len(ids)} room(s), the bot is in each")
