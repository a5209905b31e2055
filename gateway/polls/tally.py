"""``palm poll show``: counts per option, per platform, per chat or building, turnout.

Votes are per resident (``PLATFORM:USER_ID``); the building roll-up also counts
households (residents bound to one unit, ``gateway.households``): a household whose
members voted on both platforms is one household that voted.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from typing import Any

from gateway.households import HouseholdStore
from gateway.households.units import building_of
from gateway.polls.model import Poll
from gateway.runtime import Runtime

Votes = Mapping[str, Mapping[str, Any]]
UNKNOWN = "(unknown)"


def counts_of(poll: Poll, votes: Votes) -> list[int]:
    counts = [0] * len(poll.options)
    for v in votes.values():
        for o in v.get("o", []):
            if 0 <= int(o) < len(counts):
                counts[int(o)] += 1
    return counts


def _group(poll: Poll, votes: Votes, key: Mapping[str, str]) -> dict[str, dict[str, Any]]:
    groups: dict[str, dict[str, Any]] = {}
    members: dict[str, dict[str, Any]] = defaultdict(dict)
    for resident, v in votes.items():
        members[key.get(resident, UNKNOWN)][resident] = v
    for name, vs in sorted(members.items()):
        groups[name] = {"voters": len(vs), "counts": counts_of(poll, vs)}
    return groups


async def summary(rt: Runtime, poll: Poll, votes: Votes, by: str | None) -> dict[str, Any]:
    """The JSON of ``show`` (and of the API's ``GET /api/v1/polls/{id}``)."""
    platforms = {r: str(v.get("p", "")) for r, v in votes.items()}
    out: dict[str, Any] = {
        "poll": poll.to_json(),
        "voters": len(votes),
        "counts": counts_of(poll, votes),
        "by_platform": _group(poll, votes, platforms),
    }
    pattern = rt.config.households.unit_pattern
    households = HouseholdStore(rt.redis, rt.keys, pattern)
    known = await households.list()
    units = await households.units_of(votes)
    voted_units = {units[r] for r in votes if r in units}
    out["turnout"] = {
        "residents_voted": len(votes),
        "residents_known": len(known),
        "households_voted": len(voted_units),
        "households_known": len({u.unit for u in known}),
    }
    if by == "chat":
        chats = {r: str(v.get("t", "")) for r, v in votes.items()}
        out["by_chat"] = _group(poll, votes, chats)
    elif by == "building":
        out["by_building"] = _buildings(poll, votes, units, known, pattern)
    return out


def _buildings(
    poll: Poll, votes: Votes, units: Mapping[str, str], known: list[Any], pattern: str
) -> dict[str, dict[str, Any]]:
    buildings = {r: (building_of(u, pattern) or UNKNOWN) for r, u in units.items()}
    groups = _group(poll, votes, buildings)
    for name, g in groups.items():
        voted = {units[r] for r in votes if r in units and buildings[r] == name}
        g["households_voted"] = len(voted)
        g["households_known"] = len({u.unit for u in known if (u.building or UNKNOWN) == name})
        # One household, one voice: each household's options are the union of its
        # members' choices, counted once.
        per_unit: dict[str, set[int]] = defaultdict(set)
        for r in votes:
            if r in units and buildings[r] == name:
                per_unit[units[r]].update(int(o) for o in votes[r].get("o", []))
        hh = [0] * len(poll.options)
        for picked in per_unit.values():
            for o in picked:
                hh[o] += 1
        g["household_counts"] = hh
    return groups
