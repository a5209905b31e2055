"""``bench.replica_acks``: what ``redis.replica_acks: 1`` costs the inbound path.

    .venv/bin/python -m bench.replica_acks            # ~40 s
    .venv/bin/python -m bench.replica_acks --n 5000 --concurrency 16

A private redis-server (AOF everysec) with one replica (``--replicaof``) on loopback,
the fake Bot API, and ``palm run`` in webhook mode, twice: with ``replica_acks: 0`` and
with ``1``. Each run is the flood and the paced phase of ``bench.ingest`` (webhook POSTs
answered 200 only once the update is durable; with ``1`` that includes ``WAIT 1``).
Reported as ratios of the ``1`` run to the ``0`` run, in the same run of this script.
"""

from __future__ import annotations

import argparse
import subprocess
import time
from typing import Any

from redis import Redis as SyncRedis

from bench.common import Ratio, machine, write_result
from bench.ingest import child, line
from bench.procs import PREFIX, Procs, free_port, redis_server_binary


def start_replica(procs: Procs) -> None:
    port = free_port()
    primary = procs.redis_url.split("//", 1)[1].split("/", 1)[0]
    host, _, pport = primary.rpartition(":")
    data = procs.tmp / "replica"
    data.mkdir()
    cmd = [redis_server_binary(), "--port", str(port), "--bind", "127.0.0.1", "--dir", str(data),
           "--save", "", "--appendonly", "yes", "--appendfsync", "everysec",
           "--replicaof", host, pport]  # fmt: skip
    with (procs.tmp / "replica.log").open("wb") as out:
        procs.procs.append(subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT))
    client = SyncRedis(port=port)
    deadline = time.monotonic() + 20
    while True:
        try:
            if client.info("replication").get("master_link_status") == "up":
                break
        except Exception:  # not up yet
            pass
        if time.monotonic() > deadline:
            raise SystemExit("the replica did not sync")
        time.sleep(0.1)
    client.close()


def run(procs: Procs, fake: Any, acks: int, args: argparse.Namespace) -> dict[str, Any]:
    redis = {"url": procs.redis_url, "prefix": f"{PREFIX}acks{acks}:", "replica_acks": acks}
    palm = procs.start_palm(
        procs.palm_config(f"palm-acks{acks}", fake, mode="webhook", extra={"redis": redis}),
        module="bench.palm_tuned",
    )
    procs.wait_ready([palm])
    hook = palm.base + "/telegram/webhook"
    base = 30_000_000 + acks * 5_000_000
    child("webhook", hook, 300, args, start=base)  # warm-up
    flood = child("webhook", hook, args.n, args, start=base + 1000)
    print(line(f"replica_acks {acks}: flood", flood), flush=True)
    time.sleep(2)
    paced = child(
        "webhook", hook, args.paced_n, args, start=base + 2_000_000, paced=args.paced_rate
    )
    print(line(f"replica_acks {acks}: paced {args.paced_rate:.0f}/s", paced), flush=True)
    assert palm.proc is not None
    procs.stop(palm.proc)
    return {"flood": flood, "paced": paced}


def main() -> None:
    p = argparse.ArgumentParser(prog="python -m bench.replica_acks", description=__doc__)
    p.add_argument("--n", type=int, default=5_000)
    p.add_argument("--concurrency", type=int, default=16)
    p.add_argument("--users", type=int, default=500)
    p.add_argument("--paced-rate", type=float, default=300.0)
    p.add_argument("--paced-n", type=int, default=1500)
    args = p.parse_args()
    started = time.monotonic()
    info = machine()
    print(f"bench.replica_acks on {info.cpu_model}, {info.cores} cores, Python {info.python}")
    with Procs() as procs:
        procs.redis()
        start_replica(procs)
        fake = procs.fake(limits=False)
        results = {acks: run(procs, fake, acks, args) for acks in (0, 1)}
    zero, one = results[0], results[1]
    ratios = [
        Ratio("flood updates/s, replica_acks 1 vs 0", one["flood"]["rate"],
              zero["flood"]["rate"], 0.5, "/s"),
        Ratio("p99 receipt->durable paced, replica_acks 1 vs 0", one["paced"]["p99_ms"],
              zero["paced"]["p99_ms"], 2.0, "ms", higher_is_better=False),
        Ratio("p99 receipt->durable flood, replica_acks 1 vs 0", one["flood"]["p99_ms"],
              zero["flood"]["p99_ms"], 2.0, "ms", higher_is_better=False),
    ]  # fmt: skip
    print()
    for ratio in ratios:
        print(ratio.line())
    path = write_result(
        "replica_acks",
        {
            "params": vars(args),
            "acks0": zero,
            "acks1": one,
            "ratios": [x.to_json() for x in ratios],
            "wall_s": time.monotonic() - started,
        },
    )
    print(f"wrote {path} ({time.monotonic() - started:.0f} s)")


if __name__ == "__main__":
    main()
