"""Real-process chaos: `python -m devtools.chaos --seed 7 --closures 200` (`make bench-chaos`).

The Temporal dev server (its SQLite file), the broker simulator, two worker processes and the API, each its
own process. Closures of varied shapes (cash from $0 with cents, positions, an open order, a late credit or
debit, a transfer rejected, returned or expired) are initiated through the API while the monkey SIGKILLs
workers at random moments and in the middle of transfer creates, the dev server is killed and restarted, and
the broker answers some calls with 5xx, 429 or a lost response. Ops retries a parked closure, as a person
would. Then every account's ledger is checked against the DESIGN §7 invariants, to the cent. The seed draws
the shapes, the faults and the monkey's timing; process scheduling is the machine's own.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import shutil
import sys
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from pydantic import SecretStr

from adapters.records import UserRecord
from adapters.records.sqlite import SqliteRecords
from devtools.chaos_follow import ChaosReport, Customer, check_accounts, follow_closures, initiate
from devtools.chaos_monkey import CREATE, ChaosCounts, ChaosMonkey
from devtools.localstack import LocalStack, StackError, free_port
from runtime.codec_keys import new_key
from runtime.settings import TemporalSettings
from runtime.temporal import connect
from simulator.scenarios import ScenarioBuilder

JWT_SECRET = "chaos-only-jwt-secret-never-use-in-production"
SYMBOLS = ("AAPL", "MSFT", "VTI", "KO", "IBM")
READS = (
    "GET /v1/trading/accounts/{account_id}/account",
    "GET /v1/trading/accounts/{account_id}/positions",
    "GET /v1/accounts/{account_id}/transfers",
)
START = datetime(2025, 6, 2, 14, 0, tzinfo=UTC)  # a Monday, 10:00 in New York: the market is open
DAILY_LIMIT = Decimal("50000.00")


@dataclass(frozen=True)
class ChaosPlan:
    seed: int
    closures: int = 200
    workers: int = 2
    kill_every: float = 6.0  # mean real seconds between random worker kills
    kills_mid_create: int = 10
    server_restarts: int = 3
    restart_every: float = 60.0  # real seconds between dev-server restarts
    time_scale: float = 3600.0
    start_every: float = 0.5  # real seconds between initiations
    max_cash: int = 300_000
    wall_limit: float = 2700.0
    data_dir: Path = Path(".data/chaos")


@dataclass
class ChaosRun:
    plan: ChaosPlan
    report: ChaosReport
    counts: ChaosCounts
    faults_fired: int
    seconds: float
    problems: list[str] = field(default_factory=list)


def _cash(rng: random.Random, most: int) -> Decimal:
    return Decimal(rng.randrange(0, most * 100 + 1)) / 100 if rng.random() > 0.1 else Decimal(0)


def _customer(index: int, broker: ScenarioBuilder, rng: random.Random, plan: ChaosPlan) -> Customer:
    buys = [(s, Decimal(rng.randrange(1, 20))) for s in rng.sample(SYMBOLS, rng.choice((0, 0, 1, 2)))]
    account = broker.funded_account(
        _cash(rng, plan.max_cash) + 10_000 * len(buys), given_name=f"Chaos{index}"
    )
    for symbol, qty in buys:
        broker.buy(account, symbol, qty)
    if buys and rng.random() < 0.3:  # an open order the liquidation must cancel
        broker.resting_buy(account, buys[0][0], Decimal(1), Decimal("1.00"))
    if rng.random() < 0.2:  # a fee or a dividend while the closure runs
        amount = Decimal(rng.randrange(1, 5000)) / 100 * rng.choice((1, -1))
        at = broker.now() + timedelta(hours=rng.randrange(1, 72))
        broker.control(
            "POST",
            f"/accounts/{account.account_id}/credits",
            {"amount": str(amount), "note": "chaos posting", "at": at.isoformat()},
        )
    outcome = None
    if rng.random() < 0.1:
        status = rng.choice(("REJECTED", "RETURNED", "EXPIRED"))
        when = "QUEUED" if status == "EXPIRED" else rng.choice(("QUEUED", "PENDING", "APPROVED"))
        outcome = {"status": status, "nth": 1, "when": when, "reason": "R01 chaos"}
        outcome["account_id"] = account.account_id
    return Customer(f"chaos-user-{index}", account, outcome)


def _faults(plan: ChaosPlan, rng: random.Random) -> list[dict[str, Any]]:
    rules: list[dict[str, Any]] = [
        {
            "route": CREATE,
            "kind": "held",
            "latency_seconds": 2.0,
            "count": plan.kills_mid_create,
            "rate": 0.5,
        },
        {"route": CREATE, "kind": "lost_response", "status": 504, "count": max(1, plan.closures // 20)},
        {"route": CREATE, "kind": "error", "status": 503, "rate": 0.05},
    ]
    for route in READS:
        status = rng.choice((500, 502, 503, 429))
        rules.append({"route": route, "kind": "error", "status": status, "rate": 0.02})
    return rules


def _environment(address: str, sim_url: str, plan: ChaosPlan) -> dict[str, str]:
    data = plan.data_dir.resolve()
    return {
        "CLOSURE_TEMPORAL__ADDRESS": address,
        "CLOSURE_ALPACA__BASE_URL": sim_url,
        "CLOSURE_TIME_SCALE": str(plan.time_scale),
        "CLOSURE_RECORDS__SQLITE_PATH": str(data / "closure.db"),
        "CLOSURE_EMAIL__BACKEND": "outbox",
        "CLOSURE_EMAIL__OUTBOX_DIR": str(data / "outbox"),
        "CLOSURE_API__SUPABASE_JWT_SECRET": JWT_SECRET,
        # 200 closures are started and followed from this one address, at 3,600x time.
        "CLOSURE_API__ADDRESS_REQUEST_LIMIT": "1000000",
        # The hold outlasts the slowest create the broker can still process. Alpaca's is unknown, so it is
        # 15 min by default; this simulator processes a create at once or holds its answer 2 s.
        "CLOSURE_POLICY__AMBIGUOUS_CREATE_HOLD": "PT60S",
    }


async def _drive(plan: ChaosPlan, stack: LocalStack, temporal_port: int, sim_url: str) -> ChaosRun:
    began = time.monotonic()
    rng = random.Random(plan.seed)
    broker = ScenarioBuilder(sim_url)
    broker.configure(rate_limit_per_minute=1_000_000)  # time runs 3,600x: the 429s come from the faults
    records = SqliteRecords(plan.data_dir / "closure.db")
    customers = [_customer(i, broker, rng, plan) for i in range(plan.closures)]
    for customer in customers:
        records.upsert(
            UserRecord(
                user_id=customer.user_id,
                alpaca_account_id=customer.account.account_id,
                email=customer.account.email,
            )
        )
    broker.faults(_faults(plan, rng), [c.outcome for c in customers if c.outcome])
    _say(began, f"{plan.closures} accounts seeded")
    address = f"127.0.0.1:{temporal_port}"
    key = new_key()  # this run's payload key: the chaos run's histories are sealed as production's are
    environment = _environment(address, sim_url, plan) | {
        "CLOSURE_TEMPORAL__CODEC_KEYS": json.dumps({"chaos": key}),
        "CLOSURE_TEMPORAL__CODEC_KEY_ID": "chaos",
    }
    workers = [f"worker-{n}" for n in range(1, plan.workers + 1)]
    for name in workers:
        stack.worker(environment, name=name)
    api_url = stack.api(free_port(8000), environment)
    client = await connect(TemporalSettings(address=address, codec_keys={"chaos": SecretStr(key)}))
    monkey = ChaosMonkey(stack, broker, workers, random.Random(plan.seed + 1), plan.kill_every, temporal_port)
    report = ChaosReport(closures=plan.closures)
    broker.run_clock(plan.time_scale)
    monkey.start()
    try:
        restarts = asyncio.create_task(_restart_now_and_then(monkey, plan))
        for customer in customers:
            await initiate(api_url, JWT_SECRET, customer, report)
            await asyncio.sleep(plan.start_every)
        _say(began, f"{plan.closures} closures initiated through the API")
        await follow_closures(client, customers, report, "account-closure", began + plan.wall_limit)
        restarts.cancel()
    finally:
        monkey.stop()
    if monkey.failure is not None:
        raise RuntimeError(f"the chaos monkey failed: {monkey.failure!r}")
    _say(began, f"closures ended; {monkey.counts.worker_kills} worker kills so far; checking every ledger")
    faults = broker.control("GET", "/faults")
    fired = sum(r["hits"] for r in faults["rules"]) + sum(o["used"] for o in faults["transfer_outcomes"])
    broker.faults([], [])
    outbox = plan.data_dir / "outbox"
    await check_accounts(client, broker, customers, report, DAILY_LIMIT, records, outbox)
    run = ChaosRun(plan, report, monkey.counts, fired, time.monotonic() - began)
    run.problems = _short_of_plan(run)
    return run


def _say(began: float, what: str) -> None:
    print(f"[{time.monotonic() - began:6.0f} s] {what}", file=sys.stderr, flush=True)


async def _restart_now_and_then(monkey: ChaosMonkey, plan: ChaosPlan) -> None:
    for _ in range(plan.server_restarts):
        await asyncio.sleep(plan.restart_every)
        monkey.restart_server()


def _short_of_plan(run: ChaosRun) -> list[str]:
    """A calm run must not pass for a chaotic one: each kind of chaos fired as often as planned."""
    plan, counts, problems = run.plan, run.counts, []
    if counts.server_restarts < plan.server_restarts:
        problems.append(f"{counts.server_restarts} dev-server restarts of {plan.server_restarts} planned")
    if counts.kills_mid_create < plan.kills_mid_create:
        problems.append(f"{counts.kills_mid_create} kills mid-create of {plan.kills_mid_create} planned")
    return problems


def run_chaos(plan: ChaosPlan) -> ChaosRun:
    shutil.rmtree(plan.data_dir, ignore_errors=True)
    temporal_port, sim_port = free_port(7243), free_port(8775)
    with LocalStack(plan.data_dir) as stack:
        stack.temporal(temporal_port, free_port(8243), plan.data_dir / "temporal.db")
        sim_url = stack.simulator(sim_port, ["--frozen", "--start", START.isoformat()])
        return asyncio.run(_drive(plan, stack, temporal_port, sim_url))


def summary(run: ChaosRun) -> list[str]:
    report, counts = run.report, run.counts
    lines = [
        f"seed {run.plan.seed}: {report.closures} closures in {run.seconds:.0f} s: {report.completed} completed, "
        f"{len(report.parked)} with ops; {report.transfers} transfers, ${report.withdrawn:,} withdrawn",
        f"chaos: {counts.worker_kills} worker SIGKILLs ({counts.kills_mid_create} creates caught in the middle), "
        f"{counts.server_restarts} dev-server restarts (down {counts.restart_seconds} s), "
        f"{run.faults_fired} broker faults fired; ops retried {report.ops_retries} times, "
        f"the API was asked again {report.initiate_retries} times; {report.emails_with_ops} customer emails "
        "left to ops to check (their worker died mid-send; never sent twice)",
    ]
    lines += [f"  {kind}: {len(found)}" for kind, found in report.violations.items()]
    lines += [f"  with ops: {account} {reason}" for account, reason in report.parked.items()]
    lines += [f"  VIOLATION {problem}" for found in report.violations.values() for problem in found]
    lines += [f"  SHORT OF PLAN {problem}" for problem in run.problems]
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m devtools.chaos", description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--closures", type=int, default=200)
    parser.add_argument(
        "--kill-every", type=float, default=6.0, help="mean real seconds between worker kills"
    )
    parser.add_argument("--kills-mid-create", type=int, default=10)
    parser.add_argument("--server-restarts", type=int, default=3)
    parser.add_argument("--restart-every", type=float, default=60.0)
    parser.add_argument("--max-cash", type=int, default=300_000, help="dollars; each closure draws 0 to this")
    parser.add_argument("--time-scale", type=float, default=3600.0, help="simulated seconds per real second")
    parser.add_argument("--data-dir", type=Path, default=Path(".data/chaos"))
    args = parser.parse_args(argv)
    plan = ChaosPlan(**vars(args))  # each option is named after the plan's field
    try:
        run = run_chaos(plan)
    except (StackError, RuntimeError) as exc:
        print(f"chaos run failed: {exc}; logs in {plan.data_dir}/", file=sys.stderr)
        return 1
    print("\n".join(summary(run)))
    return 0 if run.report.clean and not run.problems else 1


if __name__ == "__main__":
    sys.exit(main())
