"""The legacy document's acceptance scenario, on the time-skipping server with production durations."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from decimal import Decimal
from itertools import pairwise

from temporalio.testing import WorkflowEnvironment

from closure.phases import ClosurePhase
from simulator.server import SimulatorServer
from tests.support import amounts, closure_lab, ny, transfer_times


async def test_150k_goes_out_in_three_50k_transfers_24h_apart(
    env: WorkflowEnvironment, sim: SimulatorServer, executor: ThreadPoolExecutor
) -> None:
    async with closure_lab(env, sim, executor, seed_at=ny(2025, 1, 6, 7, 0)) as lab:
        account = lab.broker.funded_account(Decimal("150000.00"))
        lab.follow_temporal()
        started = await lab.start(account)
        progress = await lab.finish(started)

        assert progress.phase == ClosurePhase.COMPLETED
        assert amounts(lab, account.account_id) == [Decimal("50000.00")] * 3
        times = transfer_times(lab, account.account_id)
        gaps = [later - earlier for earlier, later in pairwise(times)]
        for gap in gaps:
            assert timedelta(hours=24) <= gap < timedelta(hours=24, seconds=30), gaps
        assert lab.ledger(account.account_id)["status"] == "ACCOUNT_CLOSED"
        assert progress.amount_withdrawn == progress.amount_completed == Decimal("150000.00")
        assert [t.chunk for t in progress.transfers] == [1, 2, 3]
        visited = [change.phase for change in progress.history]
        for phase in (
            ClosurePhase.LIQUIDATION,
            ClosurePhase.SETTLEMENT,
            ClosurePhase.WITHDRAWAL,
            ClosurePhase.WITHDRAWAL_24HR_WAIT,
            ClosurePhase.TRANSFER_COMPLETION,
            ClosurePhase.FINAL_CLOSURE,
            ClosurePhase.COMPLETED,
        ):
            assert phase in visited
        lab.assert_invariants(account.account_id, progress)
