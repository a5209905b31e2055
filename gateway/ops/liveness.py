"""Which process holds a lease or a consumer name, and whether it is still alive.

A palm process names itself ``host:pid:start:random`` (``instance_name``), where
``start`` is the process's start time in clock ticks since boot (``/proc/PID/stat``,
field 22). That name is the Telegram poll lease's value and the prefix of every
consumer name, so another process can tell:

- a holder on **this host** whose pid is gone, or whose pid now belongs to a process
  started at another time (the pid was reused), is dead: take over at once;
- a holder on **another host** cannot be checked from here: keep the timed expiry.

Containers of one host have distinct hostnames by default, so "same host" means the
same pid namespace in practice; a name without a start time is never judged dead.
"""

from __future__ import annotations

import os
import secrets
import socket
from functools import cache


def process_start(pid: int) -> str | None:
    """The start time of ``pid`` in clock ticks since boot, or None when it is gone."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as f:
            stat = f.read()
    except OSError:
        return None
    # The command name (field 2) may hold spaces and parentheses: split after its ")".
    fields = stat.rsplit(")", 1)[-1].split()
    return fields[19] if len(fields) > 19 else None


@cache
def _own_start() -> str:
    return process_start(os.getpid()) or "0"


def instance_name() -> str:
    """A name for this process, unique across hosts and restarts: ``host:pid:start:rand``."""
    return f"{socket.gethostname()}:{os.getpid()}:{_own_start()}:{secrets.token_hex(3)}"


def holder_is_dead(name: str) -> bool:
    """True only when ``name`` (an instance name, or one that starts with it) surely
    belongs to a process of this host that is no longer running."""
    parts = name.split(":")
    if len(parts) < 3 or parts[0] != socket.gethostname() or not parts[1].isdigit():
        return False
    pid, start = int(parts[1]), parts[2]
    if not start.isdigit() or start == "0":
        return False  # an old-style or unknown start time: never guess
    if pid == os.getpid():
        return start != _own_start()
    if not os.path.isdir("/proc/self"):
        return False  # not Linux: no way to tell a reused pid
    return process_start(pid) != start
