"""Entry point: without ``--role`` it drives the benchmark; with it, it is one child."""

from __future__ import annotations

import argparse


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="python -m bench.matrix",
        description="Sends/s to a local Synapse: palm's MatrixAdapter.send vs raw nio room_send.",
    )
    p.add_argument("--n", type=int, default=300, help="timed messages per run (default 300)")
    p.add_argument(
        "--levels",
        type=lambda s: [int(x) for x in s.split(",")],
        default=[1, 8],
        help="concurrency levels, comma-separated (default 1,8)",
    )
    p.add_argument("--rounds", type=int, default=2, help="runs per client and level (default 2)")
    p.add_argument("--warmup", type=int, default=10, help="untimed sends first (default 10)")
    p.add_argument("--profile", action="store_true", help="also profile one palm run")
    p.add_argument(
        "--encrypted", action="store_true", help="end-to-end encrypted rooms (both clients)"
    )
    # child-only options (set by the driver)
    p.add_argument("--role", choices=("palm", "raw"), help=argparse.SUPPRESS)
    p.add_argument("--room", help=argparse.SUPPRESS)
    p.add_argument("--concurrency", type=int, default=1, help=argparse.SUPPRESS)
    p.add_argument("--tag", default="", help=argparse.SUPPRESS)
    p.add_argument("--profile-to", default=None, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.n < 1 or args.rounds < 1 or args.warmup < 0 or min(args.levels) < 1:
        p.error("--n, --rounds and --levels must be positive, --warmup not negative")
    if args.role and not (args.room and args.tag):
        p.error("--role needs --room and --tag")
    return args


def main() -> None:
    args = parse()
    if args.role:
        from bench.matrix import client

        client.main(args)
    else:
        from bench.matrix import run

        run.main(args)


if __name__ == "__main__":
    main()
