"""What one closure costs: broker calls, history, and its time over the broker's own timeline.

Each closure runs on the time-skipping server with production durations against its own simulator, whose
clock follows Temporal's; the account holds only cash, as in the legacy design's example scenario, and the
closure starts on a Monday at 10:00 New York time. Counted from records the service cannot mark itself:
- broker calls: every Broker API request in the simulator's request log from the start to the close;
- history: the events (and their bytes) of every run of the closure, across continue-as-new;
- time over the broker's timeline: the close against the earliest close the broker allows (each chunk the
  moment the rolling 24 h window frees, every transfer taking as long as the simulator took with it, the
  close when the returns watch of the last one ends);
- the legacy design on the same broker timeline: 2 h status polls, the next chunk 24 h after the previous
  one's completion was seen, picked up by the hourly cron; given the same returns watch, to compare alike.

    python -m bench.closure_cost [--amounts 150000,1000000] [--write docs/performance.md]
"""

from __future__ import annotations

import argparse
import asyncio
import math
import sys
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from temporalio.client import Client

from bench.report import write_section
from closure.bank_calendar import NEW_YORK, bank_days_after
from closure.phases import ClosurePhase
from closure.policy import ClosurePolicy
from simulator.server import SimulatorServer
from tests.conftest import time_skipping_server
from tests.support import closure_lab, ny, runs_of

START = ny(2025, 1, 6, 10, 0)  # a Monday
LEGACY_POLL = timedelta(hours=2)
DAY = timedelta(hours=24)
SEEDING = timedelta(hours=3)  # the seeding deposit moves the simulator's clock on by 2 h 15 min
CREATE = "POST /v1/accounts/{account_id}/transfers"


@dataclass
class ClosureCost:
    amount: Decimal
    phase: str = ""
    calls: Counter[str] = field(default_factory=Counter)
    activities: Counter[str] = field(default_factory=Counter)
    events: int = 0
    history_bytes: int = 0
    runs: int = 0
    started: datetime = START
    closed: datetime | None = None
    ideal_close: datetime | None = None
    legacy_close: datetime | None = None

    @property
    def over(self) -> timedelta | None:
        return self.closed - self.ideal_close if self.closed and self.ideal_close else None

    @property
    def legacy_over(self) -> timedelta | None:
        return self.legacy_close - self.ideal_close if self.legacy_close and self.ideal_close else None


def _at(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


async def history_of(
    client: Client, workflow_id: str, first_run_id: str | None, activities: Counter[str]
) -> tuple[int, int, int]:
    """(events, bytes, runs) over every run of the closure; `activities` counts what it scheduled, by type."""
    runs = await runs_of(client, workflow_id, first_run_id)
    events = [event for history in runs for event in history.events]
    for event in events:
        if event.HasField("activity_task_scheduled_event_attributes"):
            activities[event.activity_task_scheduled_event_attributes.activity_type.name] += 1
    return len(events), sum(event.ByteSize() for event in events), len(runs)


def timelines(cost: ClosureCost, creates: list[datetime], completes: list[datetime], watch: int) -> None:
    """The broker's earliest close and the legacy design's, with each transfer as long as it took here."""
    if len(completes) != len(creates) or not creates:
        return
    durations = [done - made for made, done in zip(creates, completes, strict=True)]
    ideal = cost.started + DAY * (len(durations) - 1) + durations[-1]
    cost.ideal_close = bank_days_after(ideal, watch)
    made = seen = cost.started
    for took in durations:
        seen = made + LEGACY_POLL * math.ceil(took / LEGACY_POLL)
        cron = seen + DAY
        made = cron.replace(minute=0, second=0, microsecond=0) + (
            timedelta(hours=1) if cron.minute else timedelta()
        )
    cost.legacy_close = bank_days_after(seen, watch)


async def one_closure(
    amount: Decimal, executor: ThreadPoolExecutor, policy: ClosurePolicy | None = None
) -> ClosureCost:
    cost = ClosureCost(amount)
    async with time_skipping_server() as env:
        with SimulatorServer() as sim:
            async with closure_lab(env, sim, executor, seed_at=START - SEEDING, policy=policy) as lab:
                account = lab.broker.funded_account(amount)
                lab.broker.advance((START - lab.broker.now()).total_seconds())
                lab.follow_temporal()
                before = len(lab.broker.control("GET", "/requests/log"))
                started = await lab.start(account)
                progress = await lab.finish(started)
                log: list[list[Any]] = lab.broker.control("GET", "/requests/log")[before:]
                events = lab.broker.control("GET", "/events/transfers")
                cost.phase = progress.phase.value
                cost.events, cost.history_bytes, cost.runs = await history_of(
                    env.client, started.handle.id, started.handle.first_execution_run_id, cost.activities
                )
                lab.assert_invariants(account.account_id, progress)
    cost.calls = Counter(label for _, label, _, _ in log)
    closes = [_at(at) for at, label, _, status in log if label.endswith("/actions/close") and status < 300]
    cost.closed = closes[-1] if closes else None
    creates = [_at(at) for at, label, _, status in log if label == CREATE and status < 300]
    mine = [e for e in events if e["account_id"] == account.account_id and _at(e["at"]) >= START]
    completes = [_at(e["at"]) for e in mine if e["status_to"] == "COMPLETE"]
    timelines(cost, creates, completes, (policy or ClosurePolicy()).returns_watch)
    return cost


def _hours(delta: timedelta | None) -> str:
    return "–" if delta is None else f"{delta / timedelta(hours=1):+.2f} h"


def report(costs: list[ClosureCost], command: str) -> str:
    lines = [
        f"`{command}`, {datetime.now(NEW_YORK):%Y-%m-%d}, this machine (2 cores), the time-skipping server "
        "with production durations.",
        "",
        "| closure | ended | broker calls | top routes | history events (runs) | history bytes "
        "| start → close (broker) | over the broker's timeline | legacy design over it |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for cost in costs:
        top = ", ".join(f"{route} {n}" for route, n in cost.calls.most_common(4))
        took = cost.closed - cost.started if cost.closed else None
        lines.append(
            f"| ${cost.amount:,.0f} | {cost.phase} | {sum(cost.calls.values())} | {top} "
            f"| {cost.events} ({cost.runs}) | {cost.history_bytes:,} | {took or '–'} "
            f"| {_hours(cost.over)} | {_hours(cost.legacy_over)} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.closure_cost", description=__doc__)
    parser.add_argument("--amounts", default="150000,1000000")
    parser.add_argument("--write", type=Path, help="replace this bench's section in the file")
    args = parser.parse_args(argv)
    amounts = [Decimal(a) for a in args.amounts.split(",")]
    with ThreadPoolExecutor(max_workers=16) as executor:
        costs = [asyncio.run(one_closure(amount, executor)) for amount in amounts]
    for cost in costs:
        print(f"${cost.amount:,.0f}: calls {dict(cost.calls)}; activities {dict(cost.activities)}")
    table = report(costs, f"python -m bench.closure_cost --amounts {args.amounts}")
    print(table)
    if args.write:
        write_section(args.write, "bench.closure_cost", table)
    return 0 if all(c.phase == ClosurePhase.COMPLETED.value for c in costs) else 1


if __name__ == "__main__":
    sys.exit(main())
