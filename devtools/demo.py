"""`make demo`: the legacy document's $150,000 closure, end to end on real local services, in about two and a half minutes.

Starts the Temporal dev server (SQLite file, UI), the broker simulator with a clock running `--time-scale`
times faster than real time, the worker and the HTTP API; seeds the account through the Broker API; initiates
the closure through the API as the customer would, follows its progress endpoint to ACCOUNT_CLOSED; prints the
simulated timeline; exits 1 unless it completed with every invariant holding.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
import redis
from pydantic import SecretStr

from adapters.records import UserRecord
from adapters.records.sqlite import SqliteRecords
from adapters.redis.keys import closure_state_key, withdrawal_state_key
from api.tokens import user_token
from closure.money import format_usd
from closure.phases import ClosurePhase
from closure.progress import ClosureProgress
from devtools.invariants import check_completed_closure, records_and_emails_agree
from devtools.localstack import LocalStack, StackError, free_port
from runtime.codec_keys import new_key
from runtime.settings import EmailSettings, RecordsSettings, Settings, TemporalSettings
from simulator.scenarios import ScenarioBuilder

NEW_YORK = ZoneInfo("America/New_York")
LEGACY_START = datetime(2025, 1, 6, 14, 0, tzinfo=UTC)  # a Monday, 09:00 in New York
DEMO_USER = "demo-user"
DEMO_JWT_SECRET = "demo-only-jwt-secret-never-use-in-production"


class DemoFailed(RuntimeError):
    """The closure did not reach ACCOUNT_CLOSED through the API."""


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m devtools.demo", description=__doc__)
    parser.add_argument("--amount", type=Decimal, default=Decimal("150000.00"))
    parser.add_argument("--time-scale", type=float, default=3600.0, help="simulated seconds per real second")
    parser.add_argument("--data-dir", type=Path, default=Path(".data/demo"))
    parser.add_argument("--timeout", type=float, default=360.0, help="wall-clock seconds before giving up")
    parser.add_argument(
        "--show-progress", action="store_true", help="print the final progress response in full"
    )
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


def _drive(api: httpx.Client, account_id: str, wall_limit: float, show: bool) -> ClosureProgress:
    """Initiate through the API, then follow the progress endpoint until the closure ends."""
    path = f"/api/account-closure/initiate/{account_id}"
    response = api.post(path)
    print(f"POST {path} -> {response.status_code}\n  {response.text}")
    if response.status_code != 202:
        raise DemoFailed(f"initiate refused: {response.text}")
    progress_url = response.json()["progress_url"]
    deadline = time.monotonic() + wall_limit
    while time.monotonic() < deadline:
        polled = api.get(progress_url)
        if polled.status_code == 200:
            progress = ClosureProgress.model_validate(polled.json())
            if progress.phase == ClosurePhase.COMPLETED:
                print(
                    f"GET {progress_url} -> 200 (phase {progress.phase.value}, {progress.percent}%, "
                    f"source {polled.json()['source']}, {len(polled.content)} bytes)"
                )
                if show:
                    print(json.dumps(polled.json(), indent=2))
                return progress
            if progress.phase in (ClosurePhase.NEEDS_ATTENTION, ClosurePhase.CANCELLED):
                raise DemoFailed(f"the closure stopped in {progress.phase.value}: {progress.step}")
        time.sleep(0.5)
    raise DemoFailed(f"the closure did not finish within {wall_limit:.0f} s")


def run_closure(settings: Settings, broker: ScenarioBuilder, api_url: str, args: argparse.Namespace) -> int:
    amount, wall_limit = args.amount, args.timeout
    account = broker.funded_account(amount)
    print(f"Seeded account {account.account_id} with {format_usd(amount)} (bank ****{account.bank_last4})")
    SqliteRecords(settings.records.sqlite_path).upsert(
        UserRecord(
            user_id=DEMO_USER,
            alpaca_account_id=account.account_id,
            email=account.email,
            first_name=account.given_name,
            last_name=account.family_name,
        )
    )
    headers = {"Authorization": f"Bearer {user_token(DEMO_JWT_SECRET, DEMO_USER)}"}
    with httpx.Client(base_url=api_url, headers=headers, timeout=30) as api:
        progress = _drive(api, account.account_id, wall_limit, args.show_progress)
    ui = f"{settings.temporal.ui_url}/namespaces/{settings.temporal.namespace}/workflows/{progress.workflow_id}"
    print(f"Closure {progress.confirmation_number} in the Temporal UI (while the demo runs): {ui}")
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
            key = new_key()  # a key for this run: the demo's histories are sealed as production's are
            settings = Settings(
                temporal=TemporalSettings(
                    address=address, ui_url=f"http://127.0.0.1:{ui_port}", codec_keys={"demo": SecretStr(key)}
                ),
                records=RecordsSettings(sqlite_path=args.data_dir / "closure.db"),
                email=EmailSettings(outbox_dir=args.data_dir / "outbox"),
                time_scale=args.time_scale,
            )
            settings.alpaca.base_url = sim_url
            environment = {
                "CLOSURE_TEMPORAL__ADDRESS": address,
                "CLOSURE_TEMPORAL__CODEC_KEYS": json.dumps({"demo": key}),
                "CLOSURE_TEMPORAL__CODEC_KEY_ID": "demo",
                "CLOSURE_ALPACA__BASE_URL": sim_url,
                "CLOSURE_TIME_SCALE": str(args.time_scale),
                "CLOSURE_RECORDS__SQLITE_PATH": str(settings.records.sqlite_path),
                "CLOSURE_EMAIL__BACKEND": "outbox",
                "CLOSURE_EMAIL__OUTBOX_DIR": str(settings.email.outbox_dir),
                "CLOSURE_API__SUPABASE_JWT_SECRET": DEMO_JWT_SECRET,
            } | ({"CLOSURE_REDIS_URL": settings.redis_url} if settings.redis_url else {})
            stack.worker(environment)
            api_url = stack.api(free_port(8000), environment)
            print(
                f"Temporal {address} (UI http://127.0.0.1:{ui_port}), simulator {sim_url} x{args.time_scale:g}, API {api_url}"
            )
            code = run_closure(settings, ScenarioBuilder(sim_url), api_url, args)
        except (StackError, DemoFailed, httpx.HTTPError) as exc:
            print(f"demo failed: {exc}", file=sys.stderr)
            code = 1
    print(
        f"Wall time: {time.monotonic() - began:.1f} s; logs and the Temporal SQLite file in {args.data_dir}/"
    )
    return code


if __name__ == "__main__":
    sys.exit(main())
