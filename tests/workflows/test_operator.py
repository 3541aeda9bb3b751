"""Steering a closure: idempotent initiation, cancel before money moves, cancel refused after."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from decimal import Decimal

import pytest
from alpaca.trading.enums import QueryOrderStatus
from temporalio.client import WorkflowUpdateFailedError
from temporalio.testing import WorkflowEnvironment

from closure.phases import ClosurePhase
from closure.progress import CancelRequest, RetryRequest, WakeSignal
from simulator.server import SimulatorServer
from tests.support import ClosureLab, closure_lab, ny
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


async def test_a_wake_signal_ends_a_wait_early(
    env: WorkflowEnvironment, sim: SimulatorServer, executor: ThreadPoolExecutor
) -> None:
    async with closure_lab(env, sim, executor, seed_at=ny(2025, 2, 7, 9, 45)) as lab:
        account = lab.broker.funded_account(Decimal("3000.00"))
        lab.broker.buy(account, "EFA", Decimal("4"))
        lab.broker.advance((ny(2025, 2, 7, 19, 0) - lab.broker.now()).total_seconds())
        lab.follow_temporal()
        started = await lab.start(account)
        waiting = await lab.until(
            started.handle, lambda p: "Market closed" in p.step, step=timedelta(minutes=1)
        )
        looks = _account_reads(lab)

        await started.handle.signal(AccountClosureWorkflow.wake, WakeSignal(reason="broker event"))
        for _ in range(100):
            if _account_reads(lab) > looks:
                break
            await asyncio.sleep(0.05)
        assert _account_reads(lab) > looks, "the wake signal should make the closure look at the broker now"
        again = await lab.progress(started.handle)
        while again.next_action_at is None:  # between its look and its next wait
            await asyncio.sleep(0.05)
            again = await lab.progress(started.handle)
        assert again.phase == ClosurePhase.LIQUIDATION  # still closed: it looked, then went back to waiting
        assert waiting.next_action_at is not None
        assert again.next_action_at <= waiting.next_action_at + timedelta(minutes=1)


def _account_reads(lab: ClosureLab) -> int:
    counts: dict[str, int] = lab.broker.control("GET", "/requests")
    return counts.get("GET /v1/trading/accounts/{account_id}/account 200", 0)
