"""The broker accepts a close with money left (as Alpaca does); the closure must never send one."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal

from temporalio.testing import WorkflowEnvironment

from closure.phases import ClosurePhase
from simulator.server import SimulatorServer
from tests.support import amounts, closure_lab, ny

ACCOUNT = "GET /v1/accounts/{account_id}"  # read only by the close activity, first thing


async def test_a_credit_landing_during_the_close_is_withdrawn_before_the_account_closes(
    env: WorkflowEnvironment, sim: SimulatorServer, executor: ThreadPoolExecutor
) -> None:
    async with closure_lab(env, sim, executor, seed_at=ny(2025, 2, 3, 7, 0)) as lab:
        account = lab.broker.funded_account(Decimal("1000.00"))
        # The close activity's first read is held for a few seconds: the moment after the workflow's final
        # checks and before the close call, when a dividend posted now would be stranded by the close.
        lab.broker.faults([{"route": ACCOUNT, "kind": "latency", "count": 1, "latency_seconds": 4}])
        lab.follow_temporal()
        started = await lab.start(account)
        finishing = asyncio.ensure_future(lab.finish(started))
        while lab.broker.control("GET", "/faults")["rules"][0]["seen"] == 0:
            assert not finishing.done(), "the closure finished without reaching the close"
            await asyncio.sleep(0.05)
        lab.broker.control(
            "POST", f"/accounts/{account.account_id}/credits", {"amount": "25.50", "note": "dividend"}
        )
        progress = await finishing

        assert progress.phase == ClosurePhase.COMPLETED
        assert amounts(lab, account.account_id) == [Decimal("1000.00"), Decimal("25.50")]
        assert progress.amount_completed == Decimal("1025.50")
        ledger = lab.ledger(account.account_id)
        assert ledger["status"] == "ACCOUNT_CLOSED"
        assert ledger["cash"] == "0.00"
        assert not [e for e in ledger["entries"] if e["kind"] == "closed_with_residual"]
        lab.assert_invariants(account.account_id, progress)
