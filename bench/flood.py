"""``bench.flood``: does a resident's /report flood delay an announcement?

    .venv/bin/python -m bench.flood                  # ~2 min: 3 rounds with, 3 without
    .venv/bin/python -m bench.flood --rounds 1       # quicker

Peers, each its own process: a private redis-server (AOF everysec), the fake Bot API
(``bench.fake_telegram_server``, limits on, as Telegram's) and one ``palm run``
(``admission: approve``, the shipped flood limits). Rounds alternate without and with
the flood (ABAB...). Each round POSTs one announcement to 300 chats (250 private, 50
groups); a flood round queues, at the same moment, 500 ``/report`` updates from one
resident in one approved group (not in the audience) at the fake, which palm polls
like any other updates.

Figures: the announcement's delay (POST -> its last delivery arriving at the fake, by
the fake's clock), flood against no flood (goal: at most 10 % longer, ratio <= 1.10);
and per flood round what the flood made palm do: tickets opened (goal <= 5), messages
the fake received in the flood group (acknowledgements; goal <= 1 per minute), and the
flood's messages stored in tickets (goal: all 500, none lost).
"""

from __future__ import annotations

import argparse
import statistics
import time
from dataclasses import asdict, dataclass

from redis import Redis as SyncRedis

from bench.common import Ratio, machine, write_result
from bench.fanout import TAG, seed
from bench.procs import PREFIX, Fake, Palm, Procs, api, make_token, seed_targets
from gateway.keys import Keys

FLOOD = 500
GOAL = 1.10
FLOOD_GROUP_BASE = -1_003_000_000_000
RESIDENT_BASE = 7_000_000


@dataclass(frozen=True, slots=True)
class Round:
    label: str
    flood: bool
    delay_s: float
    """POST -> the last announcement delivery at the fake."""
    delivered: int
    tickets: int
    acks: int
    stored: int
    violations: int


def _arrivals(fake: Fake, chats: set[int]) -> list[float]:
    got = fake.get("/arrivals?detail=1")
    return sorted(t for t, c in zip(got["times"], got["chats"], strict=True) if c in chats)


def _flood_effect(url: str, group: int) -> tuple[int, int]:
    """(messages of the flood group stored in tickets, distinct tickets they are in)."""
    r = SyncRedis.from_url(url, decode_responses=True)
    try:
        where = [v for _, v in r.hscan_iter(Keys(PREFIX)("ticket", "bymsg"), f"telegram:{group}|*")]
    finally:
        r.close()
    return len(where), len({w.rsplit("#", 1)[0] for w in where})


def one_round(
    procs: Procs, fake: Fake, palm: Palm, token: str, chats: set[int], n: int, i: int, flood: bool
) -> Round:
    fake.post("/reset")
    group = FLOOD_GROUP_BASE - i
    if flood:
        fake.post(f"/enqueue?n={FLOOD}&group={group}&user={RESIDENT_BASE + i}")
    posted = time.time()
    api(palm.base, token, "POST", "/announcements", {"text": f"Water off, round {i}", "to": TAG})
    deadline = time.monotonic() + 60 + n / 20
    arrivals: list[float] = []
    while time.monotonic() < deadline:
        arrivals = _arrivals(fake, chats)
        if len(arrivals) >= n:
            break
        time.sleep(0.2)
    stored = tickets = 0
    if flood:  # wait for the funnel to finish the flood before reading its effect
        end = time.monotonic() + 60
        while time.monotonic() < end:
            stored, tickets = _flood_effect(procs.redis_url, group)
            if stored >= FLOOD:
                break
            time.sleep(0.2)
        time.sleep(1.0)  # an acknowledgement, if any more were (wrongly) queued, lands now
    acks = len(_arrivals(fake, {group}))
    stats = fake.get("/stats")
    return Round(
        label=f"{'flood' if flood else 'quiet'} #{i}",
        flood=flood,
        delay_s=(arrivals[-1] - posted) if arrivals else float("nan"),
        delivered=len(arrivals),
        tickets=tickets,
        acks=acks,
        stored=stored,
        violations=int(stats["total"]["violations"]),
    )


def main() -> None:
    p = argparse.ArgumentParser(prog="python -m bench.flood", description=__doc__)
    p.add_argument("--rounds", type=int, default=3, help="rounds of each kind (default 3)")
    p.add_argument("--private", type=int, default=250)
    p.add_argument("--groups", type=int, default=50)
    args = p.parse_args()
    started = time.monotonic()
    info = machine()
    print(f"bench.flood on {info.cpu_model}, {info.cores} cores, Python {info.python}")
    rounds: list[Round] = []
    with Procs() as procs:
        procs.redis()
        fake = procs.fake(limits=True)
        n = seed(procs, args.private, args.groups)
        chats = {int(t.split(":", 1)[1]) for t in _target_ids(args.private, args.groups)}
        floods = [(f"telegram:{FLOOD_GROUP_BASE - i}", "group") for i in range(2 * args.rounds)]
        seed_targets(procs.redis_url, floods, [])  # approved, not in the audience
        palm = procs.start_palm(procs.palm_config("palm", fake, extra={"admission": "approve"}))
        procs.wait_ready([palm])
        token = make_token(procs.redis_url)
        print(f"{n} chats per announcement; flood: {FLOOD} /report from one resident")
        for i in range(2 * args.rounds):
            r = one_round(procs, fake, palm, token, chats, n, i, flood=i % 2 == 1)
            rounds.append(r)
            print(f"  {r.label:<9} delay {r.delay_s:6.2f} s  delivered {r.delivered}/{n}  "
                  f"tickets {r.tickets}  acks {r.acks}  stored {r.stored}"
                  f"  violations {r.violations}", flush=True)  # fmt: skip
    quiet = [r.delay_s for r in rounds if not r.flood]
    flooded = [r.delay_s for r in rounds if r.flood]
    ratio = Ratio(
        "announcement delay with the flood vs without",
        statistics.mean(flooded),
        statistics.mean(quiet),
        GOAL,
        "s",
        higher_is_better=False,
    )
    print()
    print(ratio.line())
    worst = max(rounds, key=lambda r: (r.tickets, r.acks))
    lost = [r.label for r in rounds if r.flood and r.stored != FLOOD]
    kept = "all" if not lost else "NOT all in " + ", ".join(lost)
    print(f"flood: at most {worst.tickets} tickets (goal <= 5), {worst.acks} acks (goal <= 1), "
          f"stored {kept} of {FLOOD}")  # fmt: skip
    path = write_result(
        "flood",
        {
            "params": vars(args),
            "rounds": [asdict(r) for r in rounds],
            "ratios": [ratio.to_json()],
            "wall_s": time.monotonic() - started,
        },
    )
    print(f"wrote {path} ({time.monotonic() - started:.0f} s)")


def _target_ids(n_private: int, n_groups: int) -> list[str]:
    from bench.fanout import targets

    return [t for t, _ in targets(n_private, n_groups)]


if __name__ == "__main__":
    main()
