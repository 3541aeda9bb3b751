"""`make demo`: the legacy document's $150,000 closure, end to end on real local services, in about a minute.

Starts the Temporal dev server (SQLite file, UI), the broker simulator with a clock running `--time-scale`
times faster than real time, and the worker; seeds the account through the Broker API; runs the closure to
ACCOUNT_CLOSED; prints the simulated timeline; exits 1 unless it completed with every invariant holding.
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import sys
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

from closure.invariants import check_completed_closure
from closure.localstack import LocalStack, StackError, free_port
from closure.money import format_usd
from closure.progress import ClosureProgress
from closure.settings import Settings, TemporalSettings
from closure.starter import start_closure
from closure.temporal_client import connect
from simulator.scenarios import ScenarioBuilder

NEW_YORK = ZoneInfo("America/New_York")
LEGACY_START = datetime(2025, 1, 6, 14, 0, tzinfo=UTC)  # a Monday, 09:00 in New York


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m closure.demo", description=__doc__)
    parser.add_argument("--amount", type=Decimal, default=Decimal("150000.00"))
    parser.add_argument("--time-scale", type=float, default=3600.0, help="simulated seconds per real second")
    parser.add_argument("--data-dir", type=Path, default=Path(".data/demo"))
    parser.add_argument("--timeout", type=float, default=150.0, help="wall-clock seconds before giving up")
    return parser.parse_args(argv)


def _ny(moment: datetime) -> str:
    return moment.astimezone(NEW_YORK).strftime("%a %Y-%m-%d %H:%M:%S")


def _gap(delta: timedelta) -> str:
    total = int(delta.total_seconds())
    return f"+{total // 3600}h {total % 3600 // 60:02d}m {total % 60:02d}s"


def timeline(progress: ClosureProgress) -> list[str]:
    rows: list[tuple[datetime, str]] = []
    for change in progress.history:
        if change.broker_at is not None:
            rows.append((change.broker_at, f"{change.phase.value:<22} {change.note}"))
    previous: datetime | None = None
    for transfer in progress.transfers:
        spacing = f"  ({_gap(transfer.initiated_at - previous)} after the previous one)" if previous else ""
        rows.append(
            (
                transfer.initiated_at,
                f"{'transfer ' + str(transfer.chunk):<22} {format_usd(transfer.amount)} initiated, "
                f"now {transfer.status}{spacing}",
            )
        )
        previous = transfer.initiated_at
    rows.sort(key=lambda row: row[0])
    return [f"  {_ny(at)}  {text}" for at, text in rows]


async def run_closure(settings: Settings, broker: ScenarioBuilder, amount: Decimal, wall_limit: float) -> int:
    account = broker.funded_account(amount)
    print(f"Seeded account {account.account_id} with {format_usd(amount)} (bank ****{account.bank_last4})")
    client = await connect(settings.temporal)
    started = await start_closure(
        client, account.account_id, task_queue=settings.temporal.task_queue, policy=settings.closure_policy()
    )
    ui = (
        f"{settings.temporal.ui_url}/namespaces/{settings.temporal.namespace}/workflows/{started.workflow_id}"
    )
    print(f"Closure {started.confirmation_number} started: {ui}")
    progress: ClosureProgress = await asyncio.wait_for(started.handle.result(), timeout=wall_limit)
    print("\nSimulated timeline (broker clock, New York time)")
    print("\n".join(timeline(progress)))
    ledger = broker.ledger(account.account_id)
    problems = check_completed_closure(ledger, progress, settings.closure_policy().daily_transfer_limit)
    print(f"\nBroker says {ledger['status']}; final cash {format_usd(Decimal(ledger['cash']))}")
    print(f"Withdrawn {format_usd(progress.amount_completed)} in {len(progress.transfers)} transfers")
    if problems:
        print("INVARIANTS BROKEN:\n  " + "\n  ".join(problems))
        return 1
    print(
        "DESIGN §7 invariants: all hold (dollars accounted for, 24 h limit, no duplicates, closed when empty)"
    )
    return 0


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    began = time.monotonic()
    shutil.rmtree(args.data_dir, ignore_errors=True)
    temporal_port, ui_port, sim_port = free_port(7233), free_port(8233), free_port(8765)
    with LocalStack(args.data_dir) as stack:
        try:
            address = stack.temporal(temporal_port, ui_port, args.data_dir / "temporal.db")
            sim_url = stack.simulator(
                sim_port, ["--clock-rate", str(args.time_scale), "--start", LEGACY_START.isoformat()]
            )
            settings = Settings(
                temporal=TemporalSettings(address=address, ui_url=f"http://127.0.0.1:{ui_port}"),
                time_scale=args.time_scale,
            )
            settings.alpaca.base_url = sim_url
            stack.worker(
                {
                    "CLOSURE_TEMPORAL__ADDRESS": address,
                    "CLOSURE_ALPACA__BASE_URL": sim_url,
                    "CLOSURE_TIME_SCALE": str(args.time_scale),
                }
            )
            print(
                f"Temporal {address} (UI http://127.0.0.1:{ui_port}), simulator {sim_url}, x{args.time_scale:g}"
            )
            code = asyncio.run(run_closure(settings, ScenarioBuilder(sim_url), args.amount, args.timeout))
        except (StackError, TimeoutError) as exc:
            print(f"demo failed: {exc or 'the closure did not finish in time'}", file=sys.stderr)
            code = 1
    print(
        f"Wall time: {time.monotonic() - began:.1f} s; logs and the Temporal SQLite file in {args.data_dir}/"
    )
    return code


if __name__ == "__main__":
    sys.exit(main())
