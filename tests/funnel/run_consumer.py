"""A funnel consumer in its own process, for the kill -9 tests.

``python -m tests.funnel.run_consumer CONFIG CLAIM_IDLE`` runs one consumer until
killed. (``palm run`` would do too, but takes entries of a dead consumer over only
after the default 30 s idle time.)
"""

from __future__ import annotations

import asyncio
import sys

from gateway.config_load import load_config
from gateway.funnel.consumer import ConsumerSettings, FunnelConsumer
from gateway.runtime import open_runtime


async def main(config_path: str, claim_idle: float) -> None:
    async with open_runtime(load_config(config_path)) as rt:
        consumer = FunnelConsumer(
            rt, settings=ConsumerSettings(claim_idle=claim_idle, reclaim_every=0.5, batch=20)
        )
        await consumer.start()
        print("ready", flush=True)
        await consumer.run()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], float(sys.argv[2])))
