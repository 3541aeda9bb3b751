"""ACH returns: a transfer can come back RETURNED days after COMPLETE.

Inside the returns watch the closure must not close; it parks with the bank's return code and, after an
operator's retry, sends the money again. A return after the watch (after the close) is found by the
stuck-finder with its amount. What the customer is told is what the broker's list says left the account.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from decimal import Decimal

from temporalio.testing import WorkflowEnvironment

from closure.phases import ClosurePhase
from closure.progress import RetryRequest
from ops.stuck import money_after_close
from simulator.server import SimulatorServer
from tests.support import ClosureLab, closure_lab, ny, operations
from workflows.account_closure import AccountClosureWorkflow

AMOUNT = Decimal("30000.30")


def _returned_first_transfer(lab: ClosureLab, account_id: str, after: timedelta) -> None:
    lab.broker.configure(transfer_return_seconds=after.total_seconds())
    lab.broker.faults(
        [], [{"status": "RETURNED", "nth": 1, "account_id": account_id, "reason": "R02 account closed"}]
    )


async def test_a_return_inside_the_watch_parks_the_closure_and_the_money_goes_out_again(
    env: WorkflowEnvironment, sim: SimulatorServer, executor: ThreadPoolExecutor
) -> None:
    async with closure_lab(env, sim, executor, seed_at=ny(2025, 2, 3, 7, 0)) as lab:
        account = lab.broker.funded_account(AMOUNT)
        _returned_first_transfer(lab, account.account_id, after=timedelta(days=1))
        lab.follow_temporal()
        started = await lab.start(account)
        parked = await lab.until(started.handle, lambda p: p.phase == ClosurePhase.NEEDS_ATTENTION)

        assert parked.attention is not None
        assert parked.attention.error_type == "TransferFailed"
        assert "RETURNED" in parked.attention.reason
        assert "R02 account closed" in parked.attention.reason
        assert parked.attention.resume_phase == ClosurePhase.TRANSFER_COMPLETION
        assert parked.amount_withdrawn == 0, "a returned transfer did not leave the account"
        ledger = lab.ledger(account.account_id)
        assert ledger["status"] == "ACTIVE", "the account must not be closed while the money can come back"
        assert Decimal(ledger["cash"]) == AMOUNT

        await started.handle.execute_update(
            AccountClosureWorkflow.retry, RetryRequest(operator="ops@example.com", note="new bank details")
        )
        progress = await lab.finish(started)

        assert progress.phase == ClosurePhase.COMPLETED
        assert [t.status for t in progress.transfers] == ["RETURNED", "COMPLETE"]
        assert progress.amount_completed == AMOUNT
        lab.assert_invariants(account.account_id, progress)
        email = lab.email_text("completion")
        assert "$30,000.30" in email
        assert email.count("$30,000.30") == 2, "the total and the one transfer that stayed at the bank"


async def test_a_return_after_the_watch_lands_on_the_closed_account_and_is_found_with_its_amount(
    env: WorkflowEnvironment, sim: SimulatorServer, executor: ThreadPoolExecutor
) -> None:
    async with closure_lab(env, sim, executor, seed_at=ny(2025, 2, 3, 7, 0)) as lab:
        account = lab.broker.funded_account(AMOUNT)
        _returned_first_transfer(lab, account.account_id, after=timedelta(days=9))
        lab.follow_temporal()
        started = await lab.start(account)
        progress = await lab.finish(started)

        assert progress.phase == ClosurePhase.COMPLETED
        [transfer] = progress.transfers
        assert transfer.updated_at is not None
        closed_at = progress.history[-1].broker_at
        assert closed_at is not None
        assert closed_at - transfer.updated_at >= timedelta(days=3), "watched three bank days before closing"
        lab.assert_invariants(account.account_id, progress)
        ops = await operations(lab)
        assert await money_after_close(ops, account.account_id) == []

        await env.sleep(timedelta(days=10))
        ledger = lab.ledger(account.account_id)
        assert ledger["status"] == "ACCOUNT_CLOSED"
        assert Decimal(ledger["cash"]) == AMOUNT, "the bank sent it back to a closed account"
        [finding] = await money_after_close(ops, account.account_id)
        assert finding.kind == "money_after_close"
        assert "$30,000.30" in finding.detail
        assert transfer.transfer_id in finding.detail
        assert "RETURNED" in finding.detail
