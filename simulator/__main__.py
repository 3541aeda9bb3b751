"""`python -m simulator --host 127.0.0.1 --port 8765 [--clock-rate 3600] [--start 2025-01-06T15:00:00Z]`."""

from __future__ import annotations

import argparse
import asyncio
from datetime import UTC, datetime
from pathlib import Path

import uvicorn

from simulator.app import Simulator, build_app
from simulator.clock import SimClock


def _parse_time(raw: str) -> datetime:
    value = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    if value.tzinfo is None:
        raise argparse.ArgumentTypeError("--start needs a UTC offset, e.g. 2025-01-06T15:00:00Z")
    return value


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m simulator", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument(
        "--start", type=_parse_time, default=None, help="broker time to start at (default: now)"
    )
    parser.add_argument("--clock-rate", type=float, default=1.0, help="broker seconds per real second")
    parser.add_argument("--frozen", action="store_true", help="start with a clock moved only via /_sim/clock")
    parser.add_argument("--api-key", default=None, help="require this key (default: accept any Basic auth)")
    parser.add_argument("--api-secret", default=None)
    parser.add_argument(
        "--state-file", type=Path, default=None, help="keep the broker's state here across restarts"
    )
    return parser.parse_args(argv)


def build_simulator(args: argparse.Namespace) -> Simulator:
    if args.state_file is not None and args.state_file.exists():
        return Simulator.load(args.state_file, api_key=args.api_key, api_secret=args.api_secret)
    start = args.start or datetime.now(UTC)
    clock = SimClock(start)
    if not args.frozen:
        asyncio.run(clock.run(args.clock_rate, start))
    return Simulator(
        clock=clock, api_key=args.api_key, api_secret=args.api_secret, state_file=args.state_file
    )


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    sim = build_simulator(args)
    uvicorn.run(
        build_app(sim),
        host=args.host,
        port=args.port,
        log_level="warning",
        lifespan="off",
        timeout_graceful_shutdown=5,  # an event stream never ends by itself
    )


if __name__ == "__main__":
    main()
