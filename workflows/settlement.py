"""Settlement: wait until the sale proceeds are withdrawable (T+1), alerting ops if it takes too long.

The broker publishes no event when proceeds settle, but its calendar says when they should: the wait sleeps
until the settlement date's expected hour and looks then, polling only once that moment has passed.
"""

from __future__ import annotations

from datetime import datetime

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from activities.broker import BrokerActivities
    from closure.broker_types import BusinessDeadlineInput
    from closure.errors import BrokerStateUnexpected
    from closure.money import format_usd
    from closure.phases import ClosurePhase

from workflows.halts import ClosureHalted
from workflows.run import LOOK_AFTER, ClosureRun

SETTLEMENT_FORECAST = "settlement-forecast"  # behind workflow.patched(): older closures replay their polls


async def settle(run: ClosureRun) -> ClosurePhase:
    state, policy = run.state, run.policy
    while True:
        view = await run.inspect("check settlement")
        state.last_cash, state.last_withdrawable = view.cash, view.cash_withdrawable
        if not view.is_flat:
            return ClosurePhase.LIQUIDATION
        if view.cash < 0:
            raise ClosureHalted.because(
                BrokerStateUnexpected(f"the account's cash is negative ({view.cash})")
            )
        if view.unsettled_cash == 0 and view.pending_transfer_in == 0:
            return ClosurePhase.WITHDRAWAL
        if state.settlement_alert_at is None:
            state.settlement_alert_at = await run.broker(
                BrokerActivities.business_deadline,
                BusinessDeadlineInput(
                    start=view.clock.now, business_days=policy.settlement_alert_business_days
                ),
                summary="settlement alert deadline",
            )
        if not state.settlement_alerted and view.clock.now >= state.settlement_alert_at:
            state.settlement_alerted = True
            run.alert(
                "settlement_slow",
                f"{format_usd(view.unsettled_cash)} is still unsettled after "
                f"{policy.settlement_alert_business_days} business days; the closure keeps waiting",
            )
        run.enter(
            ClosurePhase.SETTLEMENT,
            f"Waiting for {format_usd(view.unsettled_cash + view.pending_transfer_in)} to settle",
        )
        if workflow.patched(SETTLEMENT_FORECAST):
            look_at = min(await _expected_settlement(run, view.clock.now), state.settlement_alert_at)
            if view.clock.now < look_at:
                await run.pause(policy.broker_to_workflow(look_at - view.clock.now), "settlement expected")
                continue
        await run.pause(policy.settlement_poll_interval, "settlement poll")


async def _expected_settlement(run: ClosureRun, first_look: datetime) -> datetime:
    """T+n from the first look after the sale (no sale of this closure is later), by the broker's calendar on
    days the banks open too, at the policy's hour; a prior sale of the customer's settles no later."""
    state, policy = run.state, run.policy
    if state.settlement_expected_at is None:
        state.settlement_expected_at = await run.broker(
            BrokerActivities.business_deadline,
            BusinessDeadlineInput(
                start=first_look,
                business_days=policy.settlement_days,
                bank_days_too=True,
                at_new_york_time=policy.settlement_expected_time,
            ),
            summary="expected settlement",
        )
    return state.settlement_expected_at + LOOK_AFTER
