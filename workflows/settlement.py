"""Settlement: wait until the sale proceeds are withdrawable (T+1), alerting ops if it takes too long."""

from __future__ import annotations

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from activities.broker import BrokerActivities
    from closure.broker_types import BusinessDeadlineInput
    from closure.errors import BrokerStateUnexpected
    from closure.money import format_usd
    from closure.phases import ClosurePhase

from workflows.run import ClosureHalted, ClosureRun


async def settle(run: ClosureRun) -> ClosurePhase:
    state, policy = run.state, run.policy
    while True:
        view = await run.broker(BrokerActivities.inspect_account, run.account_id, summary="check settlement")
        run.observed_broker_time(view.clock.now)
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
        await run.pause(policy.settlement_poll_interval, "settlement poll")
