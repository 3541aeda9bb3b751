"""A create whose outcome is unknown is not a failed create; a transfer no chunk owns is never ignored.

The broker's own limit is raised in both tests, as a partner's may be: the service's guard must hold alone.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal

from alpaca.broker.enums import TransferDirection, TransferTiming
from alpaca.broker.models import Transfer
from alpaca.broker.requests import CreateACHTransferRequest
from temporalio.testing import WorkflowEnvironment

from closure.phases import ClosurePhase
from devtools.invariants import (
    WINDOW,
    closed_only_when_empty,
    every_dollar_accounted_for,
    never_silent,
    no_duplicate_transfers,
    parse_ledger,
)
from simulator.server import SimulatorServer
from tests.support import amounts, closure_lab, ny

TRANSFERS = "POST /v1/accounts/{account_id}/transfers"
RAISED_LIMIT = "500000.00"


async def test_a_create_processed_after_the_client_gave_up_is_adopted_not_sent_twice(
    env: WorkflowEnvironment, sim: SimulatorServer, executor: ThreadPoolExecutor
) -> None:
    async with closure_lab(env, sim, executor, seed_at=ny(2025, 2, 3, 7, 0), request_timeout=2.0) as lab:
        account = lab.broker.funded_account(Decimal("150000.00"))
        lab.broker.configure(daily_outgoing_limit=RAISED_LIMIT)
        # The second create reaches the broker, which processes it a minute later (broker clock): long after
        # the client's 2 s timeout and after a 15 s retry delay would have sent another.
        lab.broker.faults(
            [{"route": TRANSFERS, "kind": "late", "skip": 1, "count": 1, "latency_seconds": 60}]
        )
        lab.follow_temporal()
        started = await lab.start(account)
        progress = await lab.finish(started)

        assert lab.broker.control("GET", "/faults")["rules"][0]["hits"] == 1, "the late create happened"
        assert progress.phase == ClosurePhase.COMPLETED
        assert amounts(lab, account.account_id) == [Decimal("50000.00")] * 3
        assert [t.chunk for t in progress.transfers] == [1, 2, 3]
        assert [t.adopted for t in progress.transfers] == [False, True, False]
        assert progress.unowned_transfers == []
        lab.assert_invariants(account.account_id, progress)  # one transfer per chunk, $50,000 per 24 h
        email = lab.email_text("completion")
        assert "$150,000.00" in email


async def test_a_transfer_no_chunk_owns_is_counted_alerted_and_told_to_the_customer(
    env: WorkflowEnvironment, sim: SimulatorServer, executor: ThreadPoolExecutor
) -> None:
    async with closure_lab(env, sim, executor, seed_at=ny(2025, 2, 3, 7, 0)) as lab:
        account = lab.broker.funded_account(Decimal("150000.00"))
        lab.broker.configure(daily_outgoing_limit=RAISED_LIMIT)
        lab.follow_temporal()
        started = await lab.start(account)
        await lab.until(started.handle, lambda p: p.phase == ClosurePhase.WITHDRAWAL_24HR_WAIT)
        created = lab.broker.broker.create_transfer_for_account(
            account.account_id,
            CreateACHTransferRequest(
                amount="10000.00",
                direction=TransferDirection.OUTGOING,
                timing=TransferTiming.IMMEDIATE,
                relationship_id=account.relationship_id,
            ),
        )
        assert isinstance(created, Transfer)
        manual_id = str(created.id)
        progress = await lab.finish(started)

        assert progress.phase == ClosurePhase.COMPLETED
        [unowned] = progress.unowned_transfers
        assert unowned.transfer_id == manual_id
        assert unowned.amount == Decimal("10000.00")
        [alert] = [a for a in progress.alerts if a.kind == "unowned_transfer"]
        assert manual_id in alert.message
        assert "$10,000.00" in alert.message
        # The window counted it: the next chunk was $40,000.
        assert [t.amount for t in progress.transfers] == [
            Decimal("50000.00"),
            Decimal("40000.00"),
            Decimal("50000.00"),
        ]
        assert progress.amount_completed == Decimal("150000.00")
        ledger = lab.ledger(account.account_id)
        problems = [
            *never_silent(progress),
            *every_dollar_accounted_for(ledger),
            *no_duplicate_transfers(ledger, progress),
            *closed_only_when_empty(ledger),
        ]
        assert not problems, problems
        # The manual transfer itself went out within 24 h of chunk 1 (an operator's act); every chunk the
        # closure sent kept the window, the manual one included, at or under the limit.
        _, _, lines = parse_ledger(ledger)
        sent = [ln for ln in lines if ln.kind == "withdrawal"]
        for chunk in (ln for ln in sent if ln.transfer_id != manual_id):
            window = [
                ln.amount for ln in sent if chunk.created_at - WINDOW < ln.created_at <= chunk.created_at
            ]
            assert sum(window) <= Decimal("50000.00"), (chunk, window)
        email = lab.email_text("completion")
        assert "$150,000.00" in email
        assert "$10,000.00" in email


async def test_a_transfer_ops_send_before_the_withdrawal_begins_is_unowned_and_one_made_before_the_closure_is_not(
    env: WorkflowEnvironment, sim: SimulatorServer, executor: ThreadPoolExecutor
) -> None:
    """The closure first reads the transfer list at the withdrawal, days after it began: what it finds there
    was not all made before it. Ops' transfer during the settlement is money that left during the closure."""
    async with closure_lab(env, sim, executor, seed_at=ny(2025, 2, 3, 7, 0)) as lab:
        account = lab.broker.funded_account(Decimal("30000.00"))
        lab.broker.advance(3600 * 3)  # the market is open
        lab.broker.buy(account, "AAPL", Decimal("10"))
        customers = lab.broker.withdraw(account, "1000.00")  # the customer's own, a minute before the closure
        lab.broker.advance(60)
        lab.follow_temporal()
        started = await lab.start(account)
        await lab.until(started.handle, lambda p: p.phase == ClosurePhase.SETTLEMENT)
        by_hand = lab.broker.withdraw(account, "4000.00")
        progress = await lab.finish(started)

        assert progress.phase == ClosurePhase.COMPLETED
        assert [t.transfer_id for t in progress.unowned_transfers] == [str(by_hand.id)]
        [alert] = [a for a in progress.alerts if a.kind == "unowned_transfer"]
        assert str(by_hand.id) in alert.message
        assert "$4,000.00" in alert.message
        assert str(customers.id) not in alert.message
        ledger = lab.ledger(account.account_id)
        problems = [
            *every_dollar_accounted_for(ledger),
            *no_duplicate_transfers(ledger, progress, predating=frozenset({str(customers.id)})),
            *closed_only_when_empty(ledger),
        ]
        assert not problems, problems
        assert "$4,000.00" in lab.email_text("completion")
