"""Run the seeded simulation over many seeds: `python -m bench.seeded_simulation --seeds 0:1000`.

Each seed draws a closure, a broker timeline and a fault schedule (tests/simulation/seeded.py), runs it on
the time-skipping server against its own simulator with production durations, and checks the DESIGN §7
invariants from the simulator's ledger. A failing seed prints the one command that replays it.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
import time
from concurrent.futures import ThreadPoolExecutor

from closure.money import ZERO
from closure.phases import ClosurePhase
from simulator.server import SimulatorServer
from tests.conftest import time_skipping_server
from tests.simulation.seeded import SeedReport, replay_command, run_seed


def _seeds(text: str) -> range:
    first, _, last = text.partition(":")
    return range(int(first), int(last)) if last else range(int(first), int(first) + 1)


SEEDS_PER_SERVER = 25  # the in-memory test server keeps every history it saw; a fresh one stays fast


async def _run(seeds: range) -> list[tuple[SeedReport, float]]:
    done: list[tuple[SeedReport, float]] = []
    with ThreadPoolExecutor(max_workers=16) as executor:
        for first in range(0, len(seeds), SEEDS_PER_SERVER):
            done += await _run_on_one_server(seeds[first : first + SEEDS_PER_SERVER], executor)
    return done


async def _run_on_one_server(seeds: range, executor: ThreadPoolExecutor) -> list[tuple[SeedReport, float]]:
    done = []
    async with time_skipping_server() as env:
        for seed in seeds:
            began = time.monotonic()
            with SimulatorServer() as sim:
                try:
                    report = await run_seed(seed, env, sim, executor)
                except Exception as exc:  # a seed that cannot finish is a finding too, with its replay
                    report = SeedReport(
                        seed, [f"crashed: {exc!r}"[:300]], ClosurePhase.INITIATED, 0, 0, 0, ZERO
                    )
            took = time.monotonic() - began
            done.append((report, took))
            print(_line(report, took), flush=True)
    return done


def _line(report: SeedReport, took: float) -> str:
    verdict = "ok" if not report.problems else "VIOLATION " + "; ".join(report.problems)
    if report.attention:
        verdict += f" (with ops: {report.attention})"
    if report.done_by_hand:
        verdict += f" [{'; '.join(report.done_by_hand)}]"
    return (
        f"seed {report.seed:5d} {report.phase.value:16s} retries {report.retries} faults {report.faults_fired:3d} "
        f"transfers {report.transfers:3d} withdrawn {report.withdrawn:>12} {took:6.1f} s  {verdict}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    group = parser.add_mutually_exclusive_group(required=True)
    group.add_argument("--seed", help="one seed, to replay it")
    group.add_argument("--seeds", help="a range, FIRST:LAST (LAST excluded)")
    args = parser.parse_args()
    logging.basicConfig(level=logging.CRITICAL)  # the faults make the SDK log every retry; the table says it
    began = time.monotonic()
    done = asyncio.run(_run(_seeds(args.seed or args.seeds)))
    failed = [r for r, _ in done if r.problems]
    slowest, slowest_took = max(done, key=lambda d: d[1])
    print(
        f"\n{len(done)} seeds in {time.monotonic() - began:.0f} s: {len(failed)} with violations; "
        f"{sum(r.faults_fired for r, _ in done)} faults fired; "
        f"{sum(r.phase.value == 'completed' for r, _ in done)} completed, "
        f"{sum(r.phase.value != 'completed' for r, _ in done)} parked with ops; "
        f"slowest seed {slowest.seed} ({slowest_took:.1f} s)"
    )
    for report in failed:
        print(f"  replay: {replay_command(report.seed)}")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
