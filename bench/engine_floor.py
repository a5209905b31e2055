"""``bench.engine_floor``: how close to the raw client can a batched engine get here?

    .venv/bin/python -m bench.engine_floor          # ~1 min

Not palm: a stripped fan-out engine written to answer one question of #17 (is 0.6 of
the raw aiohttp client reachable in one Python process with durable state per
delivery?). It keeps the durable core of a delivery and drops everything else:

* a block take in one Lua call per block: for each delivery of the block, still
  queued? then owner := me, takes += 1, and the per-chat slot (``SET NX PX``);
* the sends: ``sendMessage`` posted with aiohttp straight (no PTB), ``BLOCK`` at once;
* a block settle in one Lua call: state sent + message id, ``XACK`` + ``XDEL``.

No shared bot-wide limiter (lifted, as in ``bench.fanout_headroom``), no hooks, no
metrics, no leases, no retries. Same fake (limits off), same Redis, same concurrency
as the raw client; rounds alternate raw and engine (ABAB).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import time
from typing import Any

from redis.asyncio import Redis

from bench.common import machine
from bench.fanout_headroom import run_raw
from bench.procs import Procs

TAKE = """
local out = {}
for i, id in ipairs(ARGV) do
  if i > 1 then
    local k = KEYS[1] .. id
    local f = redis.call('HMGET', k, 'state', 'target', 'text', 'takes')
    if f[1] == 'queued' then
      local takes = (tonumber(f[4]) or 0) + 1
      redis.call('HSET', k, 'state', 'inflight', 'owner', ARGV[1], 'takes', takes)
      redis.call('SET', KEYS[2] .. f[2], '1', 'PX', 1000)
      out[#out + 1] = id
      out[#out + 1] = f[2]
      out[#out + 1] = f[3]
    end
  end
end
return out
"""

SETTLE = """
local stream, group, prefix = KEYS[1], ARGV[1], KEYS[2]
local now = ARGV[2]
for i = 3, #ARGV, 3 do
  local k = prefix .. ARGV[i + 1]
  redis.call('HSET', k, 'state', 'sent', 'message_id', ARGV[i + 2], 'sent_at', now)
  redis.call('XACK', stream, group, ARGV[i])
  redis.call('XDEL', stream, ARGV[i])
end
return 1
"""

STREAM, GROUP, PREFIX, SLOT = "eng:s", "g", "eng:d:", "eng:slot:"


async def seed(r: Redis, n: int, base: int) -> None:
    await r.delete(STREAM)
    async with r.pipeline(transaction=False) as p:
        for i in range(n):
            p.hset(f"{PREFIX}{i}", mapping={"state": "queued", "target": str(base + i),
                                            "text": "<b>Bench</b>: water off"})  # fmt: skip
            p.xadd(STREAM, {"d": str(i)})
        await p.execute()
    await r.xgroup_create(STREAM, GROUP, id="0")


async def engine(
    url: str, base_url: str, token: str, n: int, block: int, lanes: int
) -> dict[str, Any]:
    import aiohttp

    r = Redis.from_url(url, decode_responses=True)
    await seed(r, n, 10_000_000)
    take, settle = r.register_script(TAKE), r.register_script(SETTLE)
    send_url = f"{base_url}{token}/sendMessage"
    done = 0
    conn = aiohttp.TCPConnector(limit=block * lanes)

    async with aiohttp.ClientSession(connector=conn) as session:

        async def post(target: str, text: str) -> str:
            body = {"chat_id": int(target), "text": text, "parse_mode": "HTML"}
            async with session.post(send_url, json=body) as resp:
                data = await resp.json()
            return str(data["result"]["message_id"])

        async def lane(name: str) -> None:
            nonlocal done
            while True:
                got: Any = await r.xreadgroup(GROUP, name, {STREAM: ">"}, count=block)
                if not got:
                    return
                entries = got[0][1]
                ids = {e[1]["d"]: e[0] for e in entries}
                flat: list[str] = await take(keys=[PREFIX, SLOT], args=[name, *ids])
                jobs = [(flat[i], flat[i + 1], flat[i + 2]) for i in range(0, len(flat), 3)]
                mids = await asyncio.gather(*(post(t, x) for _, t, x in jobs))
                args: list[str] = [GROUP, str(time.time())]
                for (d, _, _), mid in zip(jobs, mids, strict=True):
                    args += [ids[d], d, mid]
                await settle(keys=[STREAM, PREFIX], args=args)
                done += len(jobs)

        cpu0 = _cpu()
        started = time.perf_counter()
        await asyncio.gather(*(lane(f"lane{i}") for i in range(lanes)))
        elapsed = time.perf_counter() - started
        cpu = _cpu() - cpu0
    await r.aclose()
    return {"sent": done, "elapsed": elapsed, "rate": done / elapsed, "cpu_s": cpu}


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def main() -> None:
    p = argparse.ArgumentParser(prog="python -m bench.engine_floor", description=__doc__)
    p.add_argument("--n", type=int, default=5050)
    p.add_argument("--workers", type=int, default=16, help="raw tasks = block x lanes")
    p.add_argument("--lanes", type=int, default=2)
    p.add_argument("--rounds", type=int, default=2)
    args = p.parse_args()
    info = machine()
    print(f"bench.engine_floor on {info.cpu_model}, {info.cores} cores, Python {info.python}")
    block = max(1, args.workers // args.lanes)
    with Procs() as procs:
        url = procs.redis()
        fake = procs.fake(limits=False)
        for rnd in range(args.rounds):
            raw = run_raw(fake, args.n, args.workers)
            fake.post("/reset")
            out = asyncio.run(engine(url, fake.base_url, fake.tokens[0], args.n, block, args.lanes))
            times = sorted(fake.get("/arrivals")["times"])
            rate = (len(times) - 1) / (times[-1] - times[0])
            print(json.dumps({"round": rnd, "raw": round(raw["arrival_rate"]),
                              "engine": round(rate), "ratio": round(rate / raw["arrival_rate"], 2),
                              "engine_cpu_ms": round(1000 * out["cpu_s"] / max(out["sent"], 1), 3),
                              "raw_cpu_ms": round(1000 * raw["cpu_s"] / args.n, 3)}))  # fmt: skip


if __name__ == "__main__":
    main()
