"""The worker's CPU per closure, beside a workflow that only repeats a closure's shape, in the same run.

`--closures` closures of $150,000 in cash run one after another on the time-skipping server with production
durations, against a simulator on its own thread (its CPU is left out); then as many runs of
`ShapeWorkflow` repeat the first closure's shape, recorded from its history: the same activities (handing
back the recorded results), local activities, timers, patches and search attribute updates in the same
workflow tasks. The worker's CPU is this process's, less the simulator's thread; of it, the part on the
activity threads is the closure's broker and email work.

    python -m bench.worker_cpu [--closures 5] [--write docs/performance.md]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from pathlib import Path

from temporalio.api.history.v1 import HistoryEvent
from temporalio.client import Client
from temporalio.worker import Worker

from bench.closure_cost import SEEDING, START
from bench.closure_shape import Shape, ShapeWorkflow, recorded, shape_of
from bench.report import write_section
from closure.bank_calendar import NEW_YORK
from closure.phases import ClosurePhase
from simulator.server import SimulatorServer
from tests.conftest import time_skipping_server
from tests.support import closure_lab, runs_of

ACTIVITY_THREADS = "activity"


@dataclass
class CpuFigures:
    closures: int
    closure_ms: float  # worker CPU per closure
    activity_ms: float  # of it, on the activity threads
    closure_events: int
    shape_ms: float  # worker CPU per run of the shape
    shape_events: int

    @property
    def ratio(self) -> float:
        """Closures per CPU-second against shapes per CPU-second."""
        return self.shape_ms / self.closure_ms


def _ticks(path: str) -> int:
    fields = Path(path).read_text().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])


def _thread_seconds(threads: list[threading.Thread]) -> float:
    ticks = 0
    for thread in threads:
        try:
            ticks += _ticks(f"/proc/self/task/{thread.native_id}/stat")
        except FileNotFoundError:
            continue  # an executor thread that has not started yet has spent nothing
    return ticks / os.sysconf("SC_CLK_TCK")


class WorkerClock:
    """This process's CPU seconds, split: the simulator's thread, the activity threads, and the rest."""

    def __init__(self, simulator_port: int) -> None:
        self._simulator = f"simulator:{simulator_port}"

    def read(self) -> tuple[float, float, float]:
        threads = threading.enumerate()
        total = _ticks("/proc/self/stat") / os.sysconf("SC_CLK_TCK")
        simulator = _thread_seconds([t for t in threads if t.name == self._simulator])
        activities = _thread_seconds([t for t in threads if t.name.startswith(ACTIVITY_THREADS)])
        return total, simulator, activities

    @staticmethod
    def spent(before: tuple[float, float, float], after: tuple[float, float, float]) -> tuple[float, float]:
        """(worker seconds, of which on activity threads): everything but the simulator."""
        total, simulator, activities = (b - a for a, b in zip(before, after, strict=True))
        return total - simulator, activities


async def measure(closures: int) -> CpuFigures:
    figures, _, _ = await measure_with_histories(closures)
    return figures


async def measure_with_histories(closures: int) -> tuple[CpuFigures, list[HistoryEvent], list[HistoryEvent]]:
    """The figures, with the first closure's history and the first shape run's."""
    with ThreadPoolExecutor(max_workers=16, thread_name_prefix=ACTIVITY_THREADS) as executor:
        async with time_skipping_server() as env:
            with SimulatorServer() as sim:
                clock = WorkerClock(sim.port)
                async with closure_lab(env, sim, executor, seed_at=START - SEEDING * closures) as lab:
                    accounts = [lab.broker.funded_account(Decimal("150000.00")) for _ in range(closures)]
                    lab.broker.advance((START - lab.broker.now()).total_seconds())
                    lab.follow_temporal()
                    before = clock.read()
                    started, ended = [], []
                    for account in accounts:  # one after another, as the shape's runs go
                        started.append(await lab.start(account))
                        ended.append(await lab.finish(started[-1]))
                    print(f"{closures} closures ended", file=sys.stderr, flush=True)
                    closure_cpu, activity_cpu = clock.spent(before, clock.read())
                    if any(p.phase != ClosurePhase.COMPLETED for p in ended):
                        raise RuntimeError(f"a closure ended {[p.phase.value for p in ended]}")
                    first = started[0].handle
                    runs = await runs_of(env.client, first.id, first.first_execution_run_id)
                    events = [event for history in runs for event in history.events]
                shape = await shape_of(events, env.client.data_converter)
                shape_cpu, shape_history = await _repeat(env.client, shape, closures, clock)
    figures = CpuFigures(
        closures=closures,
        closure_ms=1000 * closure_cpu / closures,
        activity_ms=1000 * activity_cpu / closures,
        closure_events=len(events),
        shape_ms=1000 * shape_cpu / closures,
        shape_events=len(shape_history),
    )
    return figures, events, shape_history


async def _repeat(
    client: Client, shape: Shape, count: int, clock: WorkerClock
) -> tuple[float, list[HistoryEvent]]:
    queue = f"shape-{uuid.uuid4()}"
    async with Worker(client, task_queue=queue, workflows=[ShapeWorkflow], activities=[recorded]):
        before = clock.read()
        handles = []
        for n in range(count):  # one after another, as the closures went
            handles.append(
                await client.start_workflow(
                    ShapeWorkflow.run, shape, id=f"shape-{queue}-{n}", task_queue=queue
                )
            )
            await handles[-1].result()
        cpu, _ = clock.spent(before, clock.read())
        history = await handles[0].fetch_history()
    return cpu, list(history.events)


def report(figures: CpuFigures) -> str:
    f = figures
    return "\n".join(
        [
            f"`python -m bench.worker_cpu --closures {f.closures}`, {datetime.now(NEW_YORK):%Y-%m-%d}, this "
            "machine (2 cores), the time-skipping server with production durations.",
            "",
            "| run | history events | worker CPU per run | of it on activity threads | runs per CPU-second |",
            "|---|---|---|---|---|",
            f"| $150,000 closure (× {f.closures}, one after another) | {f.closure_events} | {f.closure_ms:.0f} ms "
            f"| {f.activity_ms:.0f} ms | {1000 / f.closure_ms:.1f} |",
            f"| its shape, repeated (× {f.closures}, one after another) | {f.shape_events} | {f.shape_ms:.0f} ms | – "
            f"| {1000 / f.shape_ms:.1f} |",
            "",
            f"Closures per CPU-second against the shape's: {f.ratio:.2f}× (goal ≥ 0.8×).",
        ]
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.worker_cpu", description=__doc__)
    parser.add_argument("--closures", type=int, default=5)
    parser.add_argument("--write", type=Path, help="replace this bench's section in the file")
    args = parser.parse_args(argv)
    figures = asyncio.run(measure(args.closures))
    table = report(figures)
    print(table)
    if args.write:
        write_section(args.write, "bench.worker_cpu", table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
