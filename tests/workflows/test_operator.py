"""Steering a closure: idempotent initiation, cancel before money moves, cancel refused after."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal

import pytest
from alpaca.trading.enums import QueryOrderStatus
from temporalio.client import WorkflowUpdateFailedError
from temporalio.testing import WorkflowEnvironment

from closure.phases import ClosurePhase
from closure.progress import CancelRequest, RetryRequest
from simulator.server import SimulatorServer
from tests.support import closure_lab, ny
from workflows.account_closure import AccountClosureWorkflow


async def test_second_initiate_returns_the_same_closure(
    env: WorkflowEnvironment, sim: SimulatorServer, executor: ThreadPoolExecutor
) -> None:
    async with closure_lab(env, sim, executor, seed_at=ny(2025, 2, 3, 7, 0)) as lab:
        account = lab.broker.funded_account(Decimal("70000.00"))
        lab.follow_temporal()
        first = await lab.start(account)
        second = await lab.start(account)

        assert (second.workflow_id, second.run_id) == (first.workflow_id, first.run_id)
        assert second.confirmation_number == first.confirmation_number
        progress = await lab.finish(second)
        assert progress.confirmation_number == first.confirmation_number
        assert len(lab.outgoing(account.account_id)) == 2
        lab.assert_invariants(account.account_id, progress)


async def test_cancel_before_liquidation_leaves_the_positions_alone(
    env: WorkflowEnvironment, sim: SimulatorServer, executor: ThreadPoolExecutor
) -> None:
    async with closure_lab(env, sim, executor, seed_at=ny(2025, 2, 7, 9, 45)) as lab:
        account = lab.broker.funded_account(Decimal("20000.00"))
        lab.broker.buy(account, "IWM", Decimal("12"))
        lab.broker.advance((ny(2025, 2, 7, 19, 0) - lab.broker.now()).total_seconds())  # Friday evening
        lab.follow_temporal()
        started = await lab.start(account)
        await lab.until(
            started.handle, lambda p: "Market closed" in p.step, step=lab.policy.liquidation_poll_interval
        )

        result = await started.handle.execute_update(
            AccountClosureWorkflow.cancel, CancelRequest(requested_by="customer", reason="changed my mind")
        )
        assert result.accepted
        assert result.phase == ClosurePhase.CANCELLED
        progress = await lab.finish(started)

        assert progress.phase == ClosurePhase.CANCELLED
        assert progress.cancel_reason == "changed my mind (by customer)"
        positions = lab.broker.positions(account.account_id)
        assert [(p.symbol, p.qty) for p in positions] == [("IWM", "12")]
        assert lab.broker.orders(account.account_id, QueryOrderStatus.OPEN) == []  # our sell orders withdrawn
        assert [e["kind"] for e in lab.ledger(account.account_id)["entries"]] == ["deposit", "buy"]


async def test_cancel_is_refused_once_money_has_moved(
    env: WorkflowEnvironment, sim: SimulatorServer, executor: ThreadPoolExecutor
) -> None:
    async with closure_lab(env, sim, executor, seed_at=ny(2025, 2, 3, 7, 0)) as lab:
        account = lab.broker.funded_account(Decimal("150000.00"))
        lab.follow_temporal()
        started = await lab.start(account)
        await lab.until(started.handle, lambda p: len(p.transfers) == 1)

        with pytest.raises(WorkflowUpdateFailedError) as refused:
            await started.handle.execute_update(
                AccountClosureWorkflow.cancel, CancelRequest(requested_by="customer", reason="too slow")
            )
        assert "$50,000.00 has already been sent" in str(refused.value.cause)
        with pytest.raises(WorkflowUpdateFailedError) as not_parked:
            await started.handle.execute_update(AccountClosureWorkflow.retry, RetryRequest(operator="ops"))
        assert "not waiting for an operator" in str(not_parked.value.cause)

        progress = await lab.finish(started)
        assert progress.phase == ClosurePhase.COMPLETED
        lab.assert_invariants(account.account_id, progress)
