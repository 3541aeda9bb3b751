"""However many chunks a closure sends and however long it waits for an operator, each run's history stays
small: it continues as new at a wait once its history reaches the policy's size, carrying its whole state.

Production durations on the time-skipping server; the size is set low so the runs are many.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from decimal import Decimal

from temporalio.testing import WorkflowEnvironment

from closure.phases import ClosurePhase
from closure.policy import ClosurePolicy
from closure.progress import RetryRequest
from simulator.server import SimulatorServer
from tests.support import amounts, closure_lab, ny, runs_of
from workflows.account_closure import AccountClosureWorkflow

EVENTS = 400  # the policy's continue-as-new size here; production's is 4,000
TEMPORAL_LIMIT = 10_000  # what every run must stay far under


async def test_sixty_chunks_run_in_several_short_histories_and_send_every_dollar_once(
    env: WorkflowEnvironment, sim: SimulatorServer, executor: ThreadPoolExecutor
) -> None:
    policy = ClosurePolicy(continue_as_new_events=EVENTS)
    async with closure_lab(env, sim, executor, seed_at=ny(2025, 1, 6, 7, 0), policy=policy) as lab:
        account = lab.broker.funded_account(Decimal("3000000.00"))
        lab.follow_temporal()
        started = await lab.start(account)
        progress = await lab.finish(started)
        runs = await runs_of(env.client, started.workflow_id, started.handle.first_execution_run_id)

    assert progress.phase == ClosurePhase.COMPLETED
    assert amounts(lab, account.account_id) == [Decimal("50000.00")] * 60
    assert [t.chunk for t in progress.transfers] == list(range(1, 61))
    assert progress.history[0].phase == ClosurePhase.INITIATED  # the state carried over every run
    sizes = [len(history.events) for history in runs]
    assert len(runs) >= 3, sizes
    # A run ends at the first wait after it reaches the size: one chunk's worth of events past it at most.
    assert max(sizes) <= EVENTS + 60 < TEMPORAL_LIMIT, sizes
    lab.assert_invariants(account.account_id, progress)


async def test_a_closure_waiting_half_a_year_for_an_operator_keeps_short_runs_and_still_completes(
    env: WorkflowEnvironment, sim: SimulatorServer, executor: ThreadPoolExecutor
) -> None:
    policy = ClosurePolicy(continue_as_new_events=200)
    async with closure_lab(env, sim, executor, seed_at=ny(2025, 1, 6, 7, 0), policy=policy) as lab:
        account = lab.broker.funded_account(Decimal("60000.00"))
        lab.broker.faults(
            [],
            [
                {
                    "status": "REJECTED",
                    "nth": 1,
                    "account_id": account.account_id,
                    "reason": "R01 insufficient",
                }
            ],
        )
        lab.follow_temporal()
        started = await lab.start(account)
        parked = await lab.until(started.handle, lambda p: p.phase == ClosurePhase.NEEDS_ATTENTION)
        assert parked.attention is not None
        assert "R01 insufficient" in parked.attention.reason
        await env.sleep(timedelta(days=180))  # the mirror is refreshed daily all the while
        waiting = await lab.progress(started.handle)
        assert waiting.phase == ClosurePhase.NEEDS_ATTENTION
        assert waiting.attention is not None
        assert "R01 insufficient" in waiting.attention.reason
        result = await started.handle.execute_update(
            AccountClosureWorkflow.retry, RetryRequest(operator="ops@example.com", note="bank fixed")
        )
        assert result.accepted
        progress = await lab.finish(started)
        runs = await runs_of(env.client, started.workflow_id, started.handle.first_execution_run_id)

    assert progress.phase == ClosurePhase.COMPLETED
    assert progress.amount_completed == Decimal("60000.00")
    sizes = [len(history.events) for history in runs]
    assert len(runs) >= 3, sizes
    assert max(sizes) <= 200 + 60, sizes
    lab.assert_invariants(account.account_id, progress)
