"""The progress query tells the truth at every phase, and only ever moves forward."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import date, timedelta
from decimal import Decimal

from temporalio.testing import WorkflowEnvironment

from closure.phases import ClosurePhase
from closure.progress import ClosureProgress
from simulator.server import SimulatorServer
from tests.support import NEW_YORK, closure_lab, fees_paid, ny

WAITING_PHASES = [
    ClosurePhase.LIQUIDATION,
    ClosurePhase.SETTLEMENT,
    ClosurePhase.WITHDRAWAL_24HR_WAIT,
    ClosurePhase.TRANSFER_COMPLETION,
    ClosurePhase.COMPLETED,
]


def _in(phase: ClosurePhase) -> Callable[[ClosureProgress], bool]:
    return lambda progress: progress.phase == phase


async def test_progress_reflects_each_phase(
    env: WorkflowEnvironment, sim: SimulatorServer, executor: ThreadPoolExecutor
) -> None:
    async with closure_lab(env, sim, executor, seed_at=ny(2025, 4, 11, 9, 45)) as lab:
        lab.broker.set_prices({"DIA": Decimal("400.00")})
        account = lab.broker.funded_account(Decimal("100000.00"))
        lab.broker.buy(account, "DIA", Decimal("50"))  # $20,000 in shares
        lab.broker.advance((ny(2025, 4, 11, 18, 0) - lab.broker.now()).total_seconds())  # Friday evening
        lab.follow_temporal()
        started = await lab.start(account)

        seen: list[ClosureProgress] = []
        for phase in WAITING_PHASES:
            seen.append(await lab.until(started.handle, _in(phase), step=timedelta(minutes=20)))

        liquidation, settlement, spacing, completion, completed = seen
        left = Decimal("100000.00") - fees_paid(lab.ledger(account.account_id))  # the sale paid its fees
        assert "Market closed" in liquidation.step
        assert liquidation.next_action_at is not None
        assert liquidation.amount_withdrawn == 0
        assert "settle" in settlement.step
        assert settlement.cash_at_start == Decimal("80000.00")
        assert spacing.amount_withdrawn == Decimal("50000.00")
        assert spacing.amount_remaining == left - Decimal("50000.00")
        assert spacing.next_action_at is not None
        assert completion.amount_withdrawn == left
        assert completion.amount_remaining == 0
        assert completed.percent == 100
        assert completed.amount_completed == left
        percents = [p.percent for p in seen]
        assert percents == sorted(percents), percents
        assert len(set(percents)) == len(percents), f"every waiting phase shows more progress: {percents}"
        assert completed.history[0].phase == ClosurePhase.INITIATED
        assert completed.confirmation_number == started.confirmation_number
        lab.assert_invariants(account.account_id, completed)


async def test_a_transfer_sent_after_the_cut_off_before_a_bank_holiday_is_expected_after_it(
    env: WorkflowEnvironment, sim: SimulatorServer, executor: ThreadPoolExecutor
) -> None:
    # Friday 3:00 PM, after the ACH cut-off; Monday is Columbus Day: the banks open again on Tuesday.
    async with closure_lab(env, sim, executor, seed_at=ny(2025, 10, 10, 15, 0)) as lab:
        account = lab.broker.funded_account(Decimal("1000.00"))
        lab.follow_temporal()
        started = await lab.start(account)
        waiting = await lab.until(
            started.handle, lambda p: "to complete" in p.step, step=timedelta(minutes=5)
        )

        assert waiting.next_action_at is not None
        expected = ny(2025, 10, 15, 17, 0)  # starts Tuesday, lands by the end of the next bank day
        # Progress speaks Temporal's clock; the broker's runs beside it, on its own date.
        in_workflow_time = waiting.next_action_at - await env.get_current_time()
        in_broker_time = expected - lab.broker.now()
        assert abs(in_workflow_time - in_broker_time) < timedelta(minutes=1), (
            in_workflow_time,
            in_broker_time,
        )
        progress = await lab.finish(started)
        [transfer] = progress.transfers
        assert transfer.updated_at is not None
        assert transfer.updated_at.astimezone(NEW_YORK).date() == date(2025, 10, 14), "it moved on Tuesday"
