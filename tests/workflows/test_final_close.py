"""The final close: the broker accepts a close with money left (as Alpaca does), so the closure must never
send one; money that moves by itself (a late fee, a debit, a dividend after the close) is handled or found."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal

from temporalio.testing import WorkflowEnvironment

from closure.phases import ClosurePhase
from closure.progress import RetryRequest
from ops.stuck import money_after_close
from simulator.server import SimulatorServer
from tests.support import amounts, closure_lab, fees_paid, ny, operations
from workflows.account_closure import AccountClosureWorkflow

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


async def test_a_fee_charged_after_the_last_withdrawal_parks_the_closure_until_ops_covers_it(
    env: WorkflowEnvironment, sim: SimulatorServer, executor: ThreadPoolExecutor
) -> None:
    async with closure_lab(env, sim, executor, seed_at=ny(2025, 2, 3, 7, 0)) as lab:
        account = lab.broker.funded_account(Decimal("1000.00"))
        # An ADR fee posted Tuesday, after the $1,000 left on Monday: the account now owes $1.50.
        lab.broker.control(
            "POST",
            f"/accounts/{account.account_id}/credits",
            {"amount": "-1.50", "note": "ADR fee", "at": ny(2025, 2, 4, 12, 0).isoformat()},
        )
        lab.follow_temporal()
        started = await lab.start(account)
        parked = await lab.until(started.handle, lambda p: p.phase == ClosurePhase.NEEDS_ATTENTION)

        assert parked.attention is not None
        assert "negative (-1.50)" in parked.attention.reason
        ledger = lab.ledger(account.account_id)
        assert ledger["status"] == "ACTIVE", "a close now would leave a debt on a closed account"
        assert ledger["cash"] == "-1.50"

        lab.broker.control(
            "POST",
            f"/accounts/{account.account_id}/credits",
            {"amount": "1.50", "note": "fee covered by the firm"},
        )
        await started.handle.execute_update(
            AccountClosureWorkflow.retry, RetryRequest(operator="ops@example.com", note="fee covered")
        )
        progress = await lab.finish(started)

        assert progress.phase == ClosurePhase.COMPLETED
        assert amounts(lab, account.account_id) == [Decimal("1000.00")]
        lab.assert_invariants(account.account_id, progress)


async def test_a_debit_before_the_withdrawal_is_never_sent_to_the_bank(
    env: WorkflowEnvironment, sim: SimulatorServer, executor: ThreadPoolExecutor
) -> None:
    async with closure_lab(env, sim, executor, seed_at=ny(2025, 2, 3, 10, 0)) as lab:
        account = lab.broker.funded_account(Decimal("1000.00"))
        lab.broker.buy(account, "SPY", Decimal("1"))
        lab.broker.control(
            "POST", f"/accounts/{account.account_id}/credits", {"amount": "-7.77", "note": "fee"}
        )
        lab.follow_temporal()
        progress = await lab.finish(await lab.start(account))

        assert progress.phase == ClosurePhase.COMPLETED
        fees = fees_paid(lab.ledger(account.account_id))
        assert fees > 0, "the sale paid its SEC fee and TAF"
        assert sum(amounts(lab, account.account_id)) == Decimal("1000.00") - Decimal("7.77") - fees
        assert progress.amount_completed == sum(amounts(lab, account.account_id))
        lab.assert_invariants(account.account_id, progress)


async def test_a_dividend_paid_to_the_closed_account_is_found_with_its_amount(
    env: WorkflowEnvironment, sim: SimulatorServer, executor: ThreadPoolExecutor
) -> None:
    async with closure_lab(env, sim, executor, seed_at=ny(2025, 2, 3, 7, 0)) as lab:
        account = lab.broker.funded_account(Decimal("1000.00"))
        lab.follow_temporal()
        progress = await lab.finish(await lab.start(account))
        assert progress.phase == ClosurePhase.COMPLETED
        ops = await operations(lab)
        assert await money_after_close(ops, account.account_id) == []

        lab.broker.control(
            "POST", f"/accounts/{account.account_id}/credits", {"amount": "4.00", "note": "dividend"}
        )
        [finding] = await money_after_close(ops, account.account_id)
        assert finding.kind == "money_after_close"
        assert "holds $4.00" in finding.detail
