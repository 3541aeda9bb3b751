"""Amounts that are not whole chunks, and an account with nothing in it."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal

from temporalio.testing import WorkflowEnvironment

from closure.phases import ClosurePhase
from simulator.server import SimulatorServer
from tests.support import amounts, closure_lab, ny


async def test_cash_with_cents_goes_out_to_the_cent(
    env: WorkflowEnvironment, sim: SimulatorServer, executor: ThreadPoolExecutor
) -> None:
    async with closure_lab(env, sim, executor, seed_at=ny(2025, 3, 3, 7, 0)) as lab:
        account = lab.broker.funded_account(Decimal("123456.78"))
        lab.follow_temporal()
        progress = await lab.finish(await lab.start(account))

        assert progress.phase == ClosurePhase.COMPLETED
        assert amounts(lab, account.account_id) == [
            Decimal("50000.00"),
            Decimal("50000.00"),
            Decimal("23456.78"),
        ]
        assert progress.amount_completed == Decimal("123456.78")
        lab.assert_invariants(account.account_id, progress)


async def test_empty_account_closes_at_once(
    env: WorkflowEnvironment, sim: SimulatorServer, executor: ThreadPoolExecutor
) -> None:
    async with closure_lab(env, sim, executor, seed_at=ny(2025, 3, 3, 10, 0)) as lab:
        account = lab.broker.open_account()  # no bank, no money: nothing to move, nothing to wait for
        lab.follow_temporal()
        progress = await lab.finish(await lab.start(account))

        assert progress.phase == ClosurePhase.COMPLETED
        assert progress.transfers == []
        assert lab.ledger(account.account_id)["status"] == "ACCOUNT_CLOSED"
        assert progress.started_at is not None
        assert progress.completed_at is not None
        took = progress.completed_at - progress.started_at
        assert took.total_seconds() < 60, f"an empty account should close at once, took {took}"
        lab.assert_invariants(account.account_id, progress)
