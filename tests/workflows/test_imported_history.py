"""Closures started from imported or hand-made state: they run, or wait for ops with a reason, never fail."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from decimal import Decimal

from temporalio.testing import WorkflowEnvironment

from closure.phases import ClosurePhase
from closure.policy import ClosurePolicy
from closure.progress import ClosureState, PhaseChange, RetryRequest
from simulator.server import SimulatorServer
from tests.support import closure_lab, ny
from workflows.account_closure import AccountClosureWorkflow
from workflows.client import start_closure


async def test_old_history_and_a_fast_broker_clock_do_not_stop_the_closure(
    env: WorkflowEnvironment, sim: SimulatorServer, executor: ThreadPoolExecutor
) -> None:
    async with closure_lab(env, sim, executor, seed_at=ny(2025, 2, 3, 7, 0)) as lab:
        account = lab.broker.funded_account(Decimal("1000.00"))
        user = lab.register_customer(account)
        legacy_at = ny(2025, 1, 31, 10, 0)  # the legacy system's time: far behind the workflow clock
        state = ClosureState(
            confirmation_number="CLA-LEGAC-Y0002",
            started_at=legacy_at,
            initiation_notified=True,
            history=[
                PhaseChange(phase=ClosurePhase.INITIATED, at=legacy_at, note="Imported from legacy keys")
            ],
        )
        lab.follow_temporal()
        started = await start_closure(
            env.client,
            account.account_id,
            task_queue=lab.task_queue,
            policy=ClosurePolicy(broker_clock_rate=3600),
            user_id=user.user_id,
            state=state,
        )
        lab.started.append(started)
        moved = await lab.until(
            started.handle,
            lambda p: p.phase not in (ClosurePhase.INITIATED, ClosurePhase.LIQUIDATION),
            step=timedelta(minutes=1),
            limit=timedelta(hours=1),
        )

        assert moved.history[0].broker_at == legacy_at, "an imported entry keeps its own time"
        assert all(change.broker_at is not None for change in moved.history)


async def test_a_closure_handed_to_operations_without_a_reason_waits_with_one_and_an_alert(
    env: WorkflowEnvironment, sim: SimulatorServer, executor: ThreadPoolExecutor
) -> None:
    async with closure_lab(env, sim, executor, seed_at=ny(2025, 2, 3, 7, 0)) as lab:
        account = lab.broker.funded_account(Decimal("1000.00"))
        user = lab.register_customer(account)
        lab.follow_temporal()
        started = await start_closure(
            env.client,
            account.account_id,
            task_queue=lab.task_queue,
            policy=lab.policy,
            user_id=user.user_id,
            state=ClosureState(phase=ClosurePhase.NEEDS_ATTENTION, confirmation_number="CLA-NOREA-SON01"),
        )
        lab.started.append(started)
        parked = await lab.until(started.handle, lambda p: p.attention is not None, step=timedelta(minutes=1))

        assert parked.phase == ClosurePhase.NEEDS_ATTENTION
        assert parked.attention is not None
        assert parked.attention.error_type == "AttentionWithoutReason"
        assert [a.kind for a in parked.alerts] == ["needs_attention"]
        await started.handle.execute_update(AccountClosureWorkflow.retry, RetryRequest(operator="ops"))
        progress = await lab.finish(started)
        assert progress.phase == ClosurePhase.COMPLETED
        lab.assert_invariants(account.account_id, progress)
