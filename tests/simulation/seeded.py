"""Seeded simulation: one seed draws a closure, a broker timeline and a fault schedule; the run is checked
against every DESIGN §7 invariant the broker's ledger can show, to the cent.

The same seed draws the same scenario (`random.Random(seed)`), so a failing seed is replayed exactly with
`python -m bench.seeded_simulation --seed N`. Faults are drawn from what a production deployment meets:
5xx and 429 on reads, a create the broker makes but whose answer is lost, transfers rejected, expired or
returned, a fee or a dividend posted during the closure; an operator retries a parked closure, as ops would.
"""

from __future__ import annotations

import random
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from temporalio.testing import WorkflowEnvironment

from closure.phases import ClosurePhase
from closure.progress import RetryRequest
from devtools.invariants import check_closure_outcome
from simulator.server import SimulatorServer
from tests.support import closure_lab, ny
from workflows.account_closure import AccountClosureWorkflow

SYMBOLS = ("AAPL", "MSFT", "VTI", "KO", "IBM")
READS = (
    "GET /v1/trading/accounts/{account_id}/account",
    "GET /v1/trading/accounts/{account_id}/positions",
    "GET /v1/accounts/{account_id}/transfers",
    "GET /v1/clock",
)
CREATE = "POST /v1/accounts/{account_id}/transfers"
RETRIES = 4  # an operator's patience: parked more often than this and the closure stays with ops


def replay_command(seed: int) -> str:
    return f".venv/bin/python -m bench.seeded_simulation --seed {seed}"


@dataclass
class Scenario:
    seed: int
    start: datetime
    cash: Decimal
    buys: list[tuple[str, Decimal]]
    faults: list[dict[str, Any]]
    outcomes: list[dict[str, Any]]
    postings: list[tuple[timedelta, Decimal, str]]
    described: list[str] = field(default_factory=list)


def draw(seed: int, max_cash: Decimal = Decimal("300000.00")) -> Scenario:
    rng = random.Random(seed)
    day = datetime(2025, 1, 2) + timedelta(days=rng.randrange(360))
    start = ny(day.year, day.month, day.day, rng.choice((7, 10, 13, 15, 17, 20)), rng.choice((0, 30)))
    cash = (Decimal(rng.randrange(0, int(max_cash * 100))) / 100).quantize(Decimal("0.01"))
    if rng.random() < 0.1:
        cash = Decimal(0)
    buys = [(s, Decimal(rng.randrange(1, 20))) for s in rng.sample(SYMBOLS, rng.randrange(0, 3))]
    faults: list[dict[str, Any]] = []
    for route in READS:
        if rng.random() < 0.4:
            code = rng.choice((500, 502, 503, 429))
            faults.append({"route": route, "kind": "error", "status": code, "rate": rng.choice((0.05, 0.15))})
    if rng.random() < 0.3:
        faults.append({"route": CREATE, "kind": "lost_response", "status": 504, "count": 1})
    if rng.random() < 0.3:
        faults.append({"route": CREATE, "kind": "error", "status": 503, "count": rng.randrange(1, 3)})
    outcomes = []
    for nth in (1, 2):
        if rng.random() < 0.15:
            status = rng.choice(("REJECTED", "EXPIRED", "RETURNED"))
            when = "QUEUED" if status == "EXPIRED" else rng.choice(("QUEUED", "PENDING", "APPROVED"))
            outcomes.append({"status": status, "nth": nth, "when": when, "reason": f"R0{nth} seeded"})
    postings = []
    if rng.random() < 0.3:
        amount = Decimal(rng.randrange(1, 5000)) / 100 * rng.choice((1, -1))
        postings.append((timedelta(hours=rng.randrange(1, 72)), amount, "seeded posting"))
    scenario = Scenario(seed, start, cash, buys, faults, outcomes, postings)
    scenario.described = [
        f"start {start.isoformat()}, cash {cash}, buys {buys}",
        f"faults {faults}",
        f"outcomes {outcomes}",
        f"postings {postings}",
    ]
    return scenario


@dataclass
class SeedReport:
    seed: int
    problems: list[str]
    phase: ClosurePhase
    retries: int
    faults_fired: int
    transfers: int
    withdrawn: Decimal
    attention: str | None = None


async def run_seed(
    seed: int, env: WorkflowEnvironment, sim: SimulatorServer, executor: ThreadPoolExecutor
) -> SeedReport:
    """What one seed did, and the violations it found (none: every invariant held)."""
    scenario = draw(seed)
    async with closure_lab(env, sim, executor, seed_at=scenario.start) as lab:
        broker = lab.broker
        account = broker.funded_account(scenario.cash + Decimal("10000.00") * len(scenario.buys))
        broker.advance(3600)
        for symbol, qty in scenario.buys:
            broker.buy(account, symbol, qty)
        for after, amount, note in scenario.postings:
            at = (broker.now() + after).isoformat()
            broker.control(
                "POST",
                f"/accounts/{account.account_id}/credits",
                {"amount": str(amount), "note": note, "at": at},
            )
        outcomes = [{**o, "account_id": account.account_id} for o in scenario.outcomes]
        broker.faults([{**f, "account_id": None} for f in scenario.faults], outcomes)
        lab.follow_temporal()
        started = await lab.start(account)
        retries = 0
        while True:
            progress = await lab.until(
                started.handle,
                lambda p: p.phase in (ClosurePhase.COMPLETED, ClosurePhase.NEEDS_ATTENTION),
                step=timedelta(hours=2),
                limit=timedelta(days=120),
            )
            if progress.phase == ClosurePhase.COMPLETED or retries >= RETRIES:
                break
            retries += 1
            await started.handle.execute_update(
                AccountClosureWorkflow.retry, RetryRequest(operator="seeded-ops", note=f"retry {retries}")
            )
        installed = broker.control("GET", "/faults")
        fired = sum(r["hits"] for r in installed["rules"]) + sum(
            o["used"] for o in installed["transfer_outcomes"]
        )
        broker.faults([], [])
        ledger = lab.ledger(account.account_id)
        problems = check_closure_outcome(ledger, progress, lab.policy.daily_transfer_limit)
        withdrawals = [e for e in ledger["entries"] if e["kind"] == "withdrawal"]
        withdrawn = sum((Decimal(e["amount"]) for e in withdrawals if e["status"] == "COMPLETE"), Decimal(0))
        reason = progress.attention.reason if progress.attention else None
        return SeedReport(seed, problems, progress.phase, retries, fired, len(withdrawals), withdrawn, reason)
