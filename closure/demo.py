"""`make demo`: the legacy document's $150,000 closure, end to end on real local services, in about a minute.

Starts the Temporal dev server (SQLite file, UI), the broker simulator with a clock running `--time-scale`
times faster than real time, and the worker; seeds the account through the Broker API; runs the closure to
ACCOUNT_CLOSED; prints the simulated timeline; exits 1 unless it completed with every invariant holding.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import sys
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import redis

from closure.invariants import check_completed_closure, records_and_emails_agree
from closure.localstack import LocalStack, StackError, free_port
from closure.mirror import closure_state_key, withdrawal_state_key
from closure.money import format_usd
from closure.progress import ClosureProgress
from closure.records import UserRecord
from closure.records.sqlite import SqliteRecords
from closure.settings import EmailSettings, RecordsSettings, Settings, TemporalSettings
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


def show_side_effects(settings: Settings, account_id: str) -> None:
    record = SqliteRecords(settings.records.sqlite_path).by_account(account_id)
    if record is not None:
        print(f"\nuser_onboarding ({settings.records.sqlite_path}): status={record.status}")
    emails = sorted(settings.email.outbox_dir.glob("*.html"), key=lambda p: p.stat().st_mtime_ns)
    print(f"Emails in the outbox ({settings.email.outbox_dir}/):")
    for email in emails:
        print(f"  {email.name}")
    if settings.redis_url:
        client = redis.Redis.from_url(settings.redis_url)
        for key in (closure_state_key(account_id), withdrawal_state_key(account_id)):
            value = client.get(key)
            shown = value.decode() if isinstance(value, bytes) else value
            print(f"redis {key} (ttl {client.ttl(key)} s):\n  {shown}")
    else:
        print("Redis mirror off (set REDIS_URL=redis://127.0.0.1:6379/0 to see the legacy keys)")


async def run_closure(settings: Settings, broker: ScenarioBuilder, amount: Decimal, wall_limit: float) -> int:
    account = broker.funded_account(amount)
    print(f"Seeded account {account.account_id} with {format_usd(amount)} (bank ****{account.bank_last4})")
    SqliteRecords(settings.records.sqlite_path).upsert(
        UserRecord(
            user_id="demo-user",
            alpaca_account_id=account.account_id,
            email=account.email,
            first_name=account.given_name,
            last_name=account.family_name,
        )
    )
    client = await connect(settings.temporal)
    started = await start_closure(
        client,
        account.account_id,
        task_queue=settings.temporal.task_queue,
        policy=settings.closure_policy(),
        user_id="demo-user",
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
    record = SqliteRecords(settings.records.sqlite_path).by_account(account.account_id)
    sent = [json.loads(p.read_text())["message_key"] for p in settings.email.outbox_dir.glob("*.json")]
    problems += records_and_emails_agree(ledger["status"], record.status if record else None, sent)
    print(f"\nBroker says {ledger['status']}; final cash {format_usd(Decimal(ledger['cash']))}")
    print(f"Withdrawn {format_usd(progress.amount_completed)} in {len(progress.transfers)} transfers")
    show_side_effects(settings, account.account_id)
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
                records=RecordsSettings(sqlite_path=args.data_dir / "closure.db"),
                email=EmailSettings(outbox_dir=args.data_dir / "outbox"),
                time_scale=args.time_scale,
            )
            settings.alpaca.base_url = sim_url
            worker_env = {
                "CLOSURE_TEMPORAL__ADDRESS": address,
                "CLOSURE_ALPACA__BASE_URL": sim_url,
                "CLOSURE_TIME_SCALE": str(args.time_scale),
                "CLOSURE_RECORDS__SQLITE_PATH": str(settings.records.sqlite_path),
                "CLOSURE_EMAIL__BACKEND": "outbox",
                "CLOSURE_EMAIL__OUTBOX_DIR": str(settings.email.outbox_dir),
            }
            stack.worker(
                worker_env | ({"CLOSURE_REDIS_URL": settings.redis_url} if settings.redis_url else {})
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
