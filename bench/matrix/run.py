"""The ``bench.matrix`` driver: Synapse set-up, the child runs, verification, report.

For every concurrency level and round, a ``raw`` and a ``palm`` child (separate
processes, see ``client``) each send into a fresh room of their own, in ABBA order so
neither always runs on the warmer (or fuller) server. Then a second account reads
every room back through ``/messages`` and counts each message's marker: every message
must be there exactly once.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import os
import pstats
import subprocess
import sys
import time
import urllib.request
import uuid
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.common import RESULTS, Ratio, machine, write_result
from bench.matrix.client import marker
from bench.matrix.encrypted import Reader
from tests.fakes.synapse import Synapse, User, unique_name

ROOT = Path(__file__).resolve().parents[2]
GOAL = 0.8
ROLES = ("raw", "palm")


@dataclass(frozen=True, slots=True)
class Slot:
    """One child run: who sends, how, and into which room."""

    role: str
    concurrency: int
    round: int
    room: str
    tag: str


def find_synapse() -> Synapse:
    """The running dev Synapse (``PALM_TEST_SYNAPSE_*``), else ``scripts/dev-synapse start``."""
    url = os.environ.get("PALM_TEST_SYNAPSE_URL")
    secret_file = os.environ.get("PALM_TEST_SYNAPSE_SECRET_FILE")
    if not (url and secret_file):
        proc = subprocess.run(
            [str(ROOT / "scripts" / "dev-synapse"), "start"],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        if proc.returncode != 0:
            raise SystemExit(
                "no Synapse: scripts/dev-synapse start failed (run scripts/dev-synapse "
                f"install first?)\n{proc.stderr.strip()[-800:]}"
            )
        found = dict(
            line.split("=", 1) for line in proc.stdout.splitlines() if line.startswith("PALM_")
        )
        url, secret_file = found["PALM_TEST_SYNAPSE_URL"], found["PALM_TEST_SYNAPSE_SECRET_FILE"]
    with urllib.request.urlopen(url + "/_matrix/client/versions", timeout=5) as resp:
        if resp.status != 200:
            raise SystemExit(f"no Synapse: {url} answered {resp.status}")
    return Synapse(url.rstrip("/"), Path(secret_file).read_text().strip())


async def prepare(
    synapse: Synapse, levels: list[int], rounds: int, *, encrypted: bool = False
) -> tuple[User, User, list[Slot]]:
    """A bot with its limit lifted, a reader, and one room per child run."""
    admin = await synapse.register(unique_name("benchadmin"), admin=True)
    bot = await synapse.register(unique_name("benchbot"))
    reader = await synapse.register(unique_name("benchreader"))
    await admin.override_ratelimit(bot.user_id)
    run_id = uuid.uuid4().hex[:8]
    slots: list[Slot] = []
    for c in levels:
        for r in range(rounds):
            order = ROLES if r % 2 == 0 else ROLES[::-1]
            for role in order:
                room = await bot.create_room(
                    invite=[reader.user_id], name=f"bench {role} c{c}", encrypted=encrypted
                )
                await reader.join(room)
                slots.append(Slot(role, c, r, room, f"{run_id}-c{c}-r{r}"))
    return bot, reader, slots


def child(
    synapse: Synapse,
    bot: User,
    slot: Slot,
    args: argparse.Namespace,
    *,
    profile: Path | None = None,
) -> dict[str, Any]:
    """Run one sending client in its own process; its last stdout line is its JSON."""
    cmd = [
        sys.executable,
        "-m",
        "bench.matrix",
        "--role",
        slot.role,
        "--room",
        slot.room,
        "--n",
        str(args.n),
        "--concurrency",
        str(slot.concurrency),
        "--warmup",
        str(args.warmup),
        "--tag",
        slot.tag,
    ]
    if profile is not None:
        cmd += ["--profile-to", str(profile)]
    if args.encrypted:
        cmd.append("--encrypted")
    env = {
        **os.environ,
        "PALM_BENCH_HOMESERVER": synapse.url,
        "PALM_BENCH_USER": bot.user_id,
        "PALM_BENCH_TOKEN": bot.token,
        "PALM_BENCH_PASSWORD": bot.password,
    }
    # Bounded: even a homeserver at 5 sends/s finishes well within this.
    timeout = 60 + (args.n + args.warmup) * 0.2
    proc = subprocess.run(
        cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout, check=False
    )
    lines = proc.stdout.strip().splitlines()
    if proc.returncode != 0 or not lines:
        raise SystemExit(f"{slot.role} child failed ({proc.returncode}):\n{proc.stderr[-2000:]}")
    return dict(json.loads(lines[-1]))


async def verify(
    reader: User, slot: Slot, n: int, warmup: int, decrypting: Reader | None = None
) -> dict[str, int]:
    """Count each expected marker in the room as the second account sees it (decrypted
    by its own device in an encrypted room: a message it cannot decrypt is missing)."""
    if decrypting is not None:
        bodies = await decrypting.bodies(slot.room)
    else:
        events = await reader.messages(slot.room, limit=10**9)
        bodies = [str(e.get("content", {}).get("body", "")) for e in events]
    seen = Counter(b.rsplit("\n", 1)[-1] for b in bodies)
    expected = [marker(slot.tag, slot.role, i) for i in range(n)]
    expected += [marker(slot.tag, slot.role, f"warmup{w}") for w in range(warmup)]
    once = sum(1 for m in expected if seen[m] == 1)
    missing = sum(1 for m in expected if seen[m] == 0)
    extra = sum(seen[m] - 1 for m in expected if seen[m] > 1)
    return {"expected": len(expected), "once": once, "missing": missing, "duplicated": extra}


def aggregate(runs: list[dict[str, Any]], role: str, c: int) -> dict[str, float]:
    mine = [r for r in runs if r["role"] == role and r["concurrency"] == c]
    sent = sum(r["sent"] for r in mine)
    elapsed = sum(r["elapsed"] for r in mine)
    return {
        "sends_per_s": sent / elapsed if elapsed else 0.0,
        "p50_ms": sorted(r["p50_ms"] for r in mine)[len(mine) // 2],
        "p99_ms": max(r["p99_ms"] for r in mine),
        "errors": sum(r["errors"] for r in mine),
        "cpu_ms_per_send": 1000 * sum(r["cpu_s"] for r in mine) / sent if sent else 0.0,
    }


def profile_palm(synapse: Synapse, bot: User, args: argparse.Namespace, room: str) -> str:
    """One extra, uncounted palm run under cProfile; returns the top of the profile."""
    path = RESULTS / f"matrix-palm-{time.strftime('%Y%m%dT%H%M%S')}.prof"
    RESULTS.mkdir(exist_ok=True)
    c = max(args.levels)
    slot = Slot("palm", c, -1, room, f"profile-{uuid.uuid4().hex[:8]}")
    child(synapse, bot, slot, args, profile=path)
    out = io.StringIO()
    stats = pstats.Stats(str(path), stream=out)
    stats.sort_stats("tottime").print_stats(15)
    stats.sort_stats("cumulative").print_stats(25)
    return f"profile of a palm run at concurrency {c} (saved to {path}):\n{out.getvalue()}"


def main(args: argparse.Namespace) -> None:
    started = time.monotonic()
    synapse = find_synapse()
    info = machine()
    print(f"bench.matrix on {info.cpu_model}, {info.cores} cores, Python {info.python}")
    print(f"Synapse {synapse.url}; {args.n} messages per run, levels {args.levels}, ")
    print(f"{args.rounds} rounds per level (ABBA order), {args.warmup} untimed warm-up sends")
    bot, reader, slots = asyncio.run(
        prepare(synapse, args.levels, args.rounds, encrypted=args.encrypted)
    )
    decrypting = None
    if args.encrypted:
        print("end-to-end encrypted rooms (each child is a new device of the bot)")
        decrypting = Reader(synapse.url, reader)
        decrypting.start()
    runs: list[dict[str, Any]] = []
    for slot in slots:
        result = child(synapse, bot, slot, args)
        result |= {"round": slot.round, "room": slot.room}
        result["delivery"] = asyncio.run(verify(reader, slot, args.n, args.warmup, decrypting))
        runs.append(result)
        d = result["delivery"]
        print(
            f"  c={slot.concurrency:<3} round {slot.round} {slot.role:<4} "
            f"{result['sends_per_s']:7.1f} sends/s  p50 {result['p50_ms']:6.1f} ms  "
            f"p99 {result['p99_ms']:6.1f} ms  "
            f"cpu {1000 * result['cpu_s'] / max(result['sent'], 1):.2f} ms/send  "
            f"errors {result['errors']}  "
            f"arrived once {d['once']}/{d['expected']} (missing {d['missing']}, "
            f"duplicated {d['duplicated']})"
        )
    if decrypting is not None:
        decrypting.stop()
    ratios: list[Ratio] = []
    summary: dict[str, Any] = {}
    for c in args.levels:
        raw, palm = aggregate(runs, "raw", c), aggregate(runs, "palm", c)
        summary[f"c{c}"] = {"raw": raw, "palm": palm}
        ratios.append(
            Ratio(
                f"palm sends/s at concurrency {c}",
                palm["sends_per_s"],
                raw["sends_per_s"],
                GOAL,
                unit="sends/s",
            )
        )
    lost = sum(r["delivery"]["missing"] for r in runs)
    dup = sum(r["delivery"]["duplicated"] for r in runs)
    total = sum(r["delivery"]["expected"] for r in runs)
    print()
    for ratio in ratios:
        print(ratio.line())
    for c in args.levels:
        raw, palm = summary[f"c{c}"]["raw"], summary[f"c{c}"]["palm"]
        print(
            f"client CPU per send at concurrency {c}: palm {palm['cpu_ms_per_send']:.2f} ms, "
            f"raw {raw['cpu_ms_per_send']:.2f} ms"
        )
    print(
        f"delivery (read back by a second account): {total} messages, "
        f"{lost} missing, {dup} duplicated"
    )
    profile = None
    if args.profile or not all(r.met for r in ratios):
        profile = profile_palm(synapse, bot, args, slots[-1].room)
        print(profile)
    path = write_result(
        "matrix-e2e" if args.encrypted else "matrix",
        {
            "synapse": synapse.url,
            "params": {
                "n": args.n,
                "levels": args.levels,
                "rounds": args.rounds,
                "warmup": args.warmup,
                "encrypted": args.encrypted,
            },
            "runs": runs,
            "summary": summary,
            "ratios": [r.to_json() for r in ratios],
            "delivery": {"messages": total, "missing": lost, "duplicated": dup},
            "profile": profile,
            "wall_s": time.monotonic() - started,
        },
    )
    print(f"wrote {path} ({time.monotonic() - started:.0f} s)")
    if lost or dup:
        raise SystemExit("delivery check failed: see the per-run lines above")
