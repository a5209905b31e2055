"""Which primary palm follows when the sentinels disagree (``gateway.ops.sentinel``).

The real case: the machine of the primary goes down with the sentinel beside it; the
other two fail over; both come back, the sentinel with its old configuration. For a
moment it names the old primary, which answers as a primary (with its old data) until
the others demote it about 10 s later. redis-py's own choice, the first sentinel that
names a healthy primary, then sends palm there.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import Any

import pytest
from redis.asyncio import Redis
from redis.asyncio.sentinel import MasterNotFoundError

from gateway.ops.sentinel import EpochSentinel, newest_primary
from tests.ops.sentinel import SERVICE, SentinelSetup


def view(port: int, epoch: int, *, down: bool = False, master: bool = True) -> dict[str, Any]:
    return {
        "ip": "10.0.0.1", "port": port, "config-epoch": epoch, "is_master": master,
        "is_sdown": down, "is_odown": False,
    }  # fmt: skip


def test_the_newest_epoch_wins_over_the_first_answer() -> None:
    assert newest_primary([view(6379, 0), view(6380, 1), view(6380, 1)]) == ("10.0.0.1", 6380)
    assert newest_primary([view(6379, 3), view(6380, 1)]) == ("10.0.0.1", 6379)


def test_down_and_demoted_primaries_are_not_followed() -> None:
    assert newest_primary([view(6380, 2, down=True), view(6379, 1)]) == ("10.0.0.1", 6379)
    assert newest_primary([view(6380, 2, master=False)]) is None
    assert newest_primary([]) is None


def test_a_tie_goes_to_what_most_sentinels_say() -> None:
    views = [view(6379, 1), view(6380, 1), view(6380, 1)]
    assert newest_primary(views) == ("10.0.0.1", 6380)


@pytest.mark.slow
async def test_a_sentinel_back_with_its_old_configuration_does_not_mislead_palm(
    ha: SentinelSetup,
) -> None:
    old, new = ha.ports
    stale = ha.sentinels[0]
    alone = Redis(port=stale.port, socket_timeout=1, decode_responses=True)
    palm = EpochSentinel([("127.0.0.1", s.port) for s in ha.sentinels], socket_timeout=2.0)
    await asyncio.sleep(1.5)  # every sentinel has seen the others
    stale.kill9()
    ha.primary.kill9()
    await asyncio.to_thread(ha.wait_for, lambda: ha.master_port() == new)
    await asyncio.to_thread(ha.primary.start)
    await asyncio.to_thread(stale.start)
    misled, followed = 0, set()
    deadline = time.monotonic() + 4
    try:
        while time.monotonic() < deadline:
            with contextlib.suppress(Exception):  # restarting: ask again
                state = (await alone.sentinel_masters())[SERVICE]
                if state["port"] == old and palm.check_master_state(state, SERVICE):
                    misled += 1  # the stale sentinel alone sends a client to the old one
            with contextlib.suppress(MasterNotFoundError):
                followed.add((await palm.discover_master(SERVICE))[1])
            await asyncio.sleep(0.02)
    finally:
        await alone.aclose()
    assert misled, "the stale sentinel never named the old primary: the test proves nothing"
    assert followed == {new}


def test_nobody_is_followed_while_a_sentinel_is_failing_over() -> None:
    """The leader's entry keeps the old address until the switch; the old primary, back
    already, looks healthy to the sentinels that have not switched (flags as Redis 7
    reports them)."""
    leader = view(6379, 1) | {"flags": "master,failover_in_progress"}
    others = [view(6379, 0) | {"flags": "master"}, view(6379, 0) | {"flags": "master"}]
    assert newest_primary([leader, *others]) is None
    switched = view(6380, 1) | {"flags": "master"}
    assert newest_primary([switched, *others]) == ("10.0.0.1", 6380)
