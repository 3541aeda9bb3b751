"""What one seed draws: a closure, a broker timeline, a fault schedule and what people do meanwhile.

`random.Random(seed)` draws it all, so the same seed is the same scenario. The draw follows what a production
deployment meets: balances from nothing to two million dollars (most of them small, as accounts are), shares
and a resting order, the customer's own transfers still in flight at the start, fees and dividends posted
late, journals in, 5xx and 429 on reads, creates the broker makes but whose answer is lost, transfers rejected,
expired or returned; and people: ops sending a transfer by hand, ops cancelling, a deploy restarting the broker-activity worker.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from enum import StrEnum
from typing import Any

from tests.support import ny

SYMBOLS = ("AAPL", "MSFT", "VTI", "KO", "IBM")
READS = (
    "GET /v1/trading/accounts/{account_id}/account",
    "GET /v1/trading/accounts/{account_id}/positions",
    "GET /v1/accounts/{account_id}/transfers",
    "GET /v1/clock",
)
CREATE = "POST /v1/accounts/{account_id}/transfers"
# Balance ceilings and how often each is drawn: most accounts are small, a few hold millions.
CASH_TIERS = ((Decimal("5000.00"), 30), (Decimal("300000.00"), 55), (Decimal("2000000.00"), 15))


class ActionKind(StrEnum):
    OPS_TRANSFER = "ops_transfer"  # ops sends money to the bank by hand, through the Broker API
    JOURNAL_IN = "journal_in"  # a JNLC from the firm's account (a rebate, a correction)
    OPS_CANCEL = "ops_cancel"  # ops cancels the closure: accepted only before money moves
    BROKER_WORKER_RESTART = "broker_worker_restart"  # a deploy restarts the broker-activity worker


@dataclass(frozen=True)
class Action:
    after: timedelta  # of skipped time since the closure started
    kind: ActionKind
    amount: Decimal = Decimal(0)


@dataclass
class Scenario:
    seed: int
    start: datetime
    cash: Decimal
    buys: list[tuple[str, Decimal]]
    resting_orders: list[str]
    withdrawal_in_flight: Decimal | None  # the customer's own outgoing ACH, created just before the closure
    deposit_in_flight: Decimal | None  # an incoming ACH that lands during the closure
    faults: list[dict[str, Any]]
    outcomes: list[dict[str, Any]]
    postings: list[tuple[timedelta, Decimal, str]]
    actions: list[Action]
    described: list[str] = field(default_factory=list)


def _money(rng: random.Random, low: Decimal, high: Decimal) -> Decimal:
    return Decimal(rng.randrange(int(low * 100), int(high * 100))) / 100


def _cash(rng: random.Random) -> Decimal:
    if rng.random() < 0.1:
        return Decimal("0.00")
    [ceiling] = rng.choices([c for c, _ in CASH_TIERS], weights=[w for _, w in CASH_TIERS])
    return _money(rng, Decimal(0), ceiling)


def _faults(rng: random.Random) -> list[dict[str, Any]]:
    faults: list[dict[str, Any]] = []
    for route in READS:
        if rng.random() < 0.4:
            code = rng.choice((500, 502, 503, 429))
            faults.append({"route": route, "kind": "error", "status": code, "rate": rng.choice((0.05, 0.15))})
    if rng.random() < 0.3:
        faults.append({"route": CREATE, "kind": "lost_response", "status": 504, "count": 1})
    if rng.random() < 0.3:
        faults.append({"route": CREATE, "kind": "error", "status": 503, "count": rng.randrange(1, 3)})
    return faults


def _outcomes(rng: random.Random) -> list[dict[str, Any]]:
    outcomes = []
    for nth in (1, 2):
        if rng.random() < 0.15:
            status = rng.choice(("REJECTED", "EXPIRED", "RETURNED"))
            when = "QUEUED" if status == "EXPIRED" else rng.choice(("QUEUED", "PENDING", "APPROVED"))
            outcomes.append({"status": status, "nth": nth, "when": when, "reason": f"R0{nth} seeded"})
    return outcomes


def _actions(rng: random.Random) -> list[Action]:
    actions = []
    if rng.random() < 0.1:
        after = timedelta(hours=rng.randrange(1, 360))
        actions.append(Action(after, ActionKind.OPS_TRANSFER, _money(rng, Decimal(100), Decimal(25000))))
    if rng.random() < 0.1:
        after = timedelta(hours=rng.randrange(1, 240))
        actions.append(Action(after, ActionKind.JOURNAL_IN, _money(rng, Decimal(1), Decimal(1000))))
    if rng.random() < 0.08:
        actions.append(Action(timedelta(hours=rng.randrange(0, 48)), ActionKind.OPS_CANCEL))
    if rng.random() < 0.15:
        for _ in range(rng.randrange(1, 3)):
            actions.append(Action(timedelta(hours=rng.randrange(0, 240)), ActionKind.BROKER_WORKER_RESTART))
    return sorted(actions, key=lambda a: a.after)


def draw(seed: int) -> Scenario:
    rng = random.Random(seed)
    day = datetime(2025, 1, 2) + timedelta(days=rng.randrange(360))
    start = ny(day.year, day.month, day.day, rng.choice((7, 10, 13, 15, 17, 20)), rng.choice((0, 30)))
    cash = _cash(rng)
    buys = [(s, Decimal(rng.randrange(1, 20))) for s in rng.sample(SYMBOLS, rng.randrange(0, 3))]
    resting = rng.sample(SYMBOLS, 1) if rng.random() < 0.2 else []
    withdrawal = None
    if cash > 100 and rng.random() < 0.1:
        withdrawal = min(cash, _money(rng, Decimal(100), Decimal(30000)))
    deposit = _money(rng, Decimal(100), Decimal(20000)) if rng.random() < 0.1 else None
    postings = []
    if rng.random() < 0.3:
        amount = Decimal(rng.randrange(1, 5000)) / 100 * rng.choice((1, -1))
        postings.append((timedelta(hours=rng.randrange(1, 72)), amount, "seeded posting"))
    scenario = Scenario(
        seed,
        start,
        cash,
        buys,
        resting,
        withdrawal,
        deposit,
        _faults(rng),
        _outcomes(rng),
        postings,
        _actions(rng),
    )
    scenario.described = [
        f"start {start.isoformat()}, cash {cash}, buys {buys}, resting orders {resting}",
        f"in flight at the start: withdrawal {withdrawal}, deposit {deposit}",
        f"faults {scenario.faults}",
        f"outcomes {scenario.outcomes}",
        f"postings {postings}",
        f"actions {[(str(a.after), a.kind.value, str(a.amount)) for a in scenario.actions]}",
    ]
    return scenario
