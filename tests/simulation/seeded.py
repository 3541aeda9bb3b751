"""Seeded simulation: one seed's scenario (tests/simulation/scenario.py) run and checked against every DESIGN §7
invariant the broker's ledger can show, to the cent.

A failing seed is replayed exactly with `python -m bench.seeded_simulation --seed N`. The run plays the people
too: what ops does by hand lands when the seed says, and an operator retries a parked closure, as ops would.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal
from typing import Any, cast

from alpaca.broker.enums import JournalEntryType, TransferDirection, TransferTiming
from alpaca.broker.models import Transfer
from alpaca.broker.requests import CreateACHTransferRequest, CreateJournalRequest
from alpaca.common.exceptions import APIError
from temporalio.client import WorkflowUpdateFailedError
from temporalio.testing import WorkflowEnvironment

from closure.money import format_usd
from closure.phases import ClosurePhase
from closure.progress import CancelRequest, ClosureProgress, RetryRequest
from devtools.invariants import check_closure_outcome, parse_ledger
from ops.stuck import money_after_close
from simulator.scenarios import SeededAccount
from simulator.server import SimulatorServer
from tests.simulation.scenario import Action, ActionKind, Scenario, draw
from tests.support import ClosureLab, closure_lab, operations
from workflows.account_closure import AccountClosureWorkflow

RETRIES = 4  # an operator's patience: parked more often than this and the closure stays with ops
STEP = timedelta(hours=2)
LIMIT = timedelta(days=180)
# Ops leave an account alone once its closure is closing it: a transfer or journal then would race the close.
HANDS_OFF = frozenset({ClosurePhase.FINAL_CLOSURE, ClosurePhase.COMPLETED, ClosurePhase.CANCELLED})


def replay_command(seed: int) -> str:
    return f".venv/bin/python -m bench.seeded_simulation --seed {seed}"


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
    done_by_hand: list[str] = field(default_factory=list)


@dataclass
class SeedRun:
    """One seed in flight: its lab, its account, and what was done to it from outside the closure."""

    scenario: Scenario
    lab: ClosureLab
    account: SeededAccount
    firm: SeededAccount | None = None
    predating: set[str] = field(default_factory=set)  # the customer's, made before the closure began
    by_hand: set[str] = field(default_factory=set)  # ops', made during it
    done_by_hand: list[str] = field(default_factory=list)

    def seed_the_broker(self) -> None:
        scenario, broker = self.scenario, self.lab.broker
        broker.advance(3600)
        for symbol, qty in scenario.buys:
            broker.buy(self.account, symbol, qty)
        for symbol in scenario.resting_orders:
            broker.resting_buy(self.account, symbol, Decimal(1), limit_price=Decimal("1.00"))
        for after, amount, note in scenario.postings:
            at = (broker.now() + after).isoformat()
            body = {"amount": str(amount), "note": note, "at": at}
            broker.control("POST", f"/accounts/{self.account.account_id}/credits", body)
        if scenario.withdrawal_in_flight is not None:
            self.predating.add(str(broker.withdraw(self.account, str(scenario.withdrawal_in_flight)).id))
            broker.advance(60)  # the customer asks to close a minute after withdrawing
        if scenario.deposit_in_flight is not None:
            self._transfer(TransferDirection.INCOMING, scenario.deposit_in_flight)
        outcomes = [{**o, "account_id": self.account.account_id} for o in scenario.outcomes]
        broker.faults([{**f, "account_id": None} for f in scenario.faults], outcomes)

    def _transfer(self, direction: TransferDirection, amount: Decimal) -> Transfer:
        request = CreateACHTransferRequest(
            amount=str(amount),
            direction=direction,
            timing=TransferTiming.IMMEDIATE,
            relationship_id=self.account.relationship_id,
        )
        broker = self.lab.broker.broker
        return cast(Transfer, broker.create_transfer_for_account(self.account.account_id, request))

    async def act(self, action: Action, progress: ClosureProgress) -> None:
        if action.kind == ActionKind.BROKER_WORKER_RESTART:
            await self.lab.restart_broker_worker()
            self.done_by_hand.append("broker worker restarted")
        elif action.kind == ActionKind.OPS_CANCEL:
            self.done_by_hand.append(await self._cancel())
        elif progress.phase in HANDS_OFF:
            self.done_by_hand.append(f"{action.kind.value} skipped: the closure is {progress.phase.value}")
        elif action.kind == ActionKind.OPS_TRANSFER:
            self.done_by_hand.append(self._ops_transfer(action.amount))
        else:
            self.done_by_hand.append(self._journal_in(action.amount))

    async def _cancel(self) -> str:
        [started] = self.lab.started
        request = CancelRequest(requested_by="seeded-ops", reason="ops cancel")
        try:
            await started.handle.execute_update(AccountClosureWorkflow.cancel, request)
        except WorkflowUpdateFailedError as refused:
            return f"cancel refused: {refused.cause}"
        return "cancelled"

    def _ops_transfer(self, amount: Decimal) -> str:
        try:
            transfer = self._transfer(TransferDirection.OUTGOING, amount)
        except APIError as refused:
            return f"ops transfer of {amount} refused: {refused.status_code}"
        self.by_hand.add(str(transfer.id))
        return f"ops transfer of {amount} sent"

    def _journal_in(self, amount: Decimal) -> str:
        assert self.firm is not None
        request = CreateJournalRequest(
            from_account=self.firm.account_id,
            to_account=self.account.account_id,
            entry_type=JournalEntryType.CASH,
            amount=float(amount),
        )
        try:
            self.lab.broker.broker.create_journal(request)
        except APIError as refused:
            return f"journal of {amount} refused: {refused.status_code}"
        return f"journal of {amount} in"


async def _drive(run: SeedRun) -> tuple[ClosureProgress, int]:
    """Skip time until the closure ends or stays with ops, doing what the seed says on the way."""
    lab = run.lab
    [started] = lab.started
    pending = list(run.scenario.actions)
    elapsed, retries = timedelta(0), 0
    while True:
        progress = await lab.progress(started.handle)
        if progress.phase.is_terminal:
            return progress, retries
        if progress.phase == ClosurePhase.NEEDS_ATTENTION:
            if retries >= RETRIES:
                return progress, retries
            retries += 1
            request = RetryRequest(operator="seeded-ops", note=f"retry {retries}")
            await started.handle.execute_update(AccountClosureWorkflow.retry, request)
        while pending and pending[0].after <= elapsed:
            await run.act(pending.pop(0), progress)
        if elapsed >= LIMIT:
            raise AssertionError(f"after {LIMIT} the closure is still {progress.phase}: {progress.step}")
        await lab.env.sleep(STEP)
        elapsed += STEP


async def _after_close(
    lab: ClosureLab, account_id: str, ledger: dict[str, Any], progress: ClosureProgress
) -> tuple[Decimal, list[str]]:
    """Money that reached the account after its close (a posting drawn late, a quick closure), and whether
    the sweep's check reports it with its amount, as DESIGN §7.7 asks. The broker records anything left at
    the close itself (`closed_with_residual`), so cash on a closed account without that entry came later."""
    status, cash, lines = parse_ledger(ledger)
    left_at_close = any(line.kind == "closed_with_residual" for line in lines)
    if progress.phase != ClosurePhase.COMPLETED or status != "ACCOUNT_CLOSED" or cash == 0 or left_at_close:
        return Decimal(0), []
    found = await money_after_close(await operations(lab), account_id)
    if any(format_usd(cash) in finding.detail for finding in found):
        return cash, []
    return Decimal(0), [f"{cash} reached the closed account and the sweep did not report it: {found}"]


async def run_seed(
    seed: int, env: WorkflowEnvironment, sim: SimulatorServer, executor: ThreadPoolExecutor
) -> SeedReport:
    """What one seed did, and the violations it found (none: every invariant held)."""
    scenario = draw(seed)
    restarts = any(a.kind == ActionKind.BROKER_WORKER_RESTART for a in scenario.actions)
    async with closure_lab(env, sim, executor, seed_at=scenario.start, split_broker_worker=restarts) as lab:
        broker = lab.broker
        # Each order is covered at the market price, as the broker checks buying power: a resting limit buy too.
        orders = len(scenario.buys) + len(scenario.resting_orders)
        account = broker.funded_account(scenario.cash + Decimal("10000.00") * orders)
        run = SeedRun(scenario, lab, account)
        if any(a.kind == ActionKind.JOURNAL_IN for a in scenario.actions):
            run.firm = broker.funded_account(Decimal("5000.00"), "Firm", "Rebates")
        run.seed_the_broker()
        lab.follow_temporal()
        await lab.start(account)
        progress, retries = await _drive(run)
        installed = broker.control("GET", "/faults")
        fired = sum(r["hits"] for r in installed["rules"]) + sum(
            o["used"] for o in installed["transfer_outcomes"]
        )
        broker.faults([], [])
        ledger = lab.ledger(account.account_id)
        limit = lab.policy.daily_transfer_limit
        after_close, unreported = await _after_close(lab, account.account_id, ledger, progress)
        problems = unreported + check_closure_outcome(
            ledger, progress, limit, frozenset(run.predating), frozenset(run.by_hand), after_close
        )
        withdrawals = [e for e in ledger["entries"] if e["kind"] == "withdrawal"]
        withdrawn = sum((Decimal(e["amount"]) for e in withdrawals if e["status"] == "COMPLETE"), Decimal(0))
        reason = progress.attention.reason if progress.attention else None
        return SeedReport(
            seed,
            problems,
            progress.phase,
            retries,
            fired,
            len(withdrawals),
            withdrawn,
            reason,
            run.done_by_hand,
        )
