"""The fake Bot API server (``tests.fakes.telegram_api.FakeTelegram``) in its own process.

    .venv/bin/python -m bench.fake_telegram_server [--limits on|off] [--bots N]

Benchmarks run it as a peer process so its HTTP handling and its limit checks do not
share an event loop (or a core) with palm. On start it prints one JSON line to stdout::

    {"base_url": "http://127.0.0.1:PORT/bot", "control": "http://127.0.0.1:CPORT",
     "tokens": ["<default token>", "<extra bot tokens>..."]}

The control server (a second port, never seen by palm) answers:

* ``GET /stats``: per bot: sends recorded, violations (and the first 20 reasons), forced
  429s, requests by method, the distinct chats reached, and the most any chat got.
* ``GET /count``: messages sent by every bot, in O(1) (what a benchmark polls).
* ``GET /arrivals?token=T``: the arrival time (``time.time()`` when the fake recorded
  it) of every message sent, in order; with ``&detail=1`` also each chat id.
* ``POST /reset``: forget every message, log and counter (between benchmark rounds).
* ``POST /enqueue?token=T&n=N&users=U``: queue ``N`` private messages from ``U`` users
  for ``getUpdates`` (an ingest flood through polling).

SIGTERM/SIGINT stop it; the server's behaviour is exactly the fake's.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import signal
import sys
import time
from collections import Counter
from typing import Any

from aiohttp import web

from tests.fakes.telegram_api import FakeBot, FakeTelegram

EXTRA_TOKEN = "{n}:BENCH-extra-bot-token-abcdefghijklmnopqrstuv"


def _bot_stats(bot: FakeBot) -> dict[str, Any]:
    per_chat = Counter(m.chat_id for m in bot.messages)
    return {
        "bot_id": bot.bot_id,
        "sent": len(bot.messages),
        "violations": bot.violations,
        "violation_log": bot.violation_log[:20],
        "paid_sends": bot.paid_sends,
        "forced_429": bot.forced_429,
        "requests": dict(bot.requests),
        "chats": len(per_chat),
        "max_per_chat": max(per_chat.values(), default=0),
        "pending_updates": len(bot.updates),
    }


def control_app(fake: FakeTelegram) -> web.Application:
    async def stats(_: web.Request) -> web.Response:
        bots = {tok: _bot_stats(b) for tok, b in fake.bots.items()}
        total = {
            "sent": sum(b["sent"] for b in bots.values()),
            "violations": sum(b["violations"] for b in bots.values()),
        }
        return web.json_response({"bots": bots, "total": total})

    async def count(_: web.Request) -> web.Response:
        # O(1): the benchmarks poll this while the fake counts arrivals. /stats walks
        # every message (20-50 ms at 100,000 of them), and four walks a second stalled
        # the loop that stamps arrival times: queued sends got stamped together.
        sent = sum(len(b.messages) for b in fake.bots.values())
        return web.json_response({"sent": sent})

    async def arrivals(request: web.Request) -> web.Response:
        bot = fake.bots.get(request.query.get("token", fake.token))
        if bot is None:
            return web.json_response({"error": "unknown token"}, status=404)
        out: dict[str, Any] = {"times": [m.date for m in bot.messages]}
        if request.query.get("detail"):
            out["chats"] = [m.chat_id for m in bot.messages]
        return web.json_response(out)

    async def reset(_: web.Request) -> web.Response:
        for bot in fake.bots.values():
            bot.messages.clear()
            bot.by_id.clear()
            bot.bot_log.clear()
            bot.all_log.clear()
            bot.paid_sends = 0
            bot.chat_log.clear()
            bot.violation_log.clear()
            bot.violations = 0
            bot.forced_429 = 0
            bot.requests.clear()
        return web.json_response({"ok": True})

    async def enqueue(request: web.Request) -> web.Response:
        bot = fake.bots.get(request.query.get("token", fake.token))
        if bot is None:
            return web.json_response({"error": "unknown token"}, status=404)
        n = int(request.query.get("n", "1"))
        users = max(1, int(request.query.get("users", "100")))
        group = request.query.get("group")
        if group is not None:  # a flood: n messages from one resident in one group
            sender = fake.user(int(request.query.get("user", "4242")))
            text = request.query.get("text", "/report bench flood")
            for i in range(n):
                msg = fake.message(int(group), f"{text} {i}", sender=sender)
                fake.enqueue({"message": msg}, bot)
            return web.json_response({"queued": n})
        first = int(request.query.get("first", "0"))
        stamp = request.query.get("stamp") == "1"  # the text carries its enqueue time
        for i in range(first, first + n):
            chat = 1_000_000 + i % users
            text = f"bench update {i} @{time.time():.6f}" if stamp else f"bench update {i}"
            fake.enqueue({"message": fake.message(chat, text)}, bot)
        return web.json_response({"queued": n})

    app = web.Application()
    app.router.add_get("/stats", stats)
    app.router.add_get("/count", count)
    app.router.add_get("/arrivals", arrivals)
    app.router.add_post("/reset", reset)
    app.router.add_post("/enqueue", enqueue)
    return app


async def serve(limits: bool, extra_bots: int) -> None:
    fake = FakeTelegram(enforce_limits=limits)
    tokens = [fake.token]
    for n in range(extra_bots):
        token = EXTRA_TOKEN.format(n=900_000_001 + n)
        fake.add_bot(token, f"palm_bench_{n}_bot")
        tokens.append(token)
    await fake.start()
    runner = web.AppRunner(control_app(fake), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    sockets: Any = getattr(site._server, "sockets", ())
    control = f"http://127.0.0.1:{int(sockets[0].getsockname()[1])}"
    print(json.dumps({"base_url": fake.base_url, "control": control, "tokens": tokens}))
    sys.stdout.flush()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    await runner.cleanup()
    await fake.aclose()


def main() -> None:
    p = argparse.ArgumentParser(prog="python -m bench.fake_telegram_server")
    p.add_argument("--limits", choices=("on", "off"), default="on")
    p.add_argument("--bots", type=int, default=0, help="extra bots besides the default one")
    args = p.parse_args()
    # The fake's arrival times are the measurement. Its cyclic collector walks every
    # message and per-chat log it keeps, and at 50,000 chats one pass stopped this
    # process for 88-136 ms: the requests that came in meanwhile were then stamped
    # together, a burst no sender made (and a "violation" of the 1,000/s window).
    # Nearly all of its garbage is freed by reference counting anyway.
    gc.disable()
    asyncio.run(serve(args.limits == "on", args.bots))


if __name__ == "__main__":
    main()
