"""Before anything moves: the account must be able to close, and the money must have somewhere to go."""

from __future__ import annotations

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from activities.broker import BrokerActivities
    from closure.errors import AccountNotEligible, NoApprovedAchRelationship
    from closure.money import format_usd
    from closure.phases import ClosurePhase

from workflows import notify
from workflows.run import ClosureHalted, ClosureRun


async def check_preconditions(run: ClosureRun) -> ClosurePhase:
    view = await run.broker(BrokerActivities.inspect_account, run.account_id, summary="check the account")
    run.observed_broker_time(view.clock.now)
    if view.status == "ACCOUNT_CLOSED":
        return ClosurePhase.FINAL_CLOSURE  # confirms, updates the user record and says goodbye
    if view.status != "ACTIVE":
        raise ClosureHalted(
            AccountNotEligible.__name__, f"the broker reports the account as {view.status}, not ACTIVE"
        )
    if view.account_blocked or view.transfers_blocked:
        raise ClosureHalted(
            AccountNotEligible.__name__, "the account is blocked from transfers at the broker"
        )
    has_value = view.cash > 0 or bool(view.positions)
    if has_value and view.approved_relationship is None:
        raise ClosureHalted(
            NoApprovedAchRelationship.__name__,
            f"the account holds {format_usd(view.cash)} in cash and {len(view.positions)} position(s) but has no "
            "APPROVED ACH relationship to send the money to; nothing was sold or moved",
        )
    run.state.relationship = view.approved_relationship
    if run.state.cash_at_start is None:
        run.state.cash_at_start = view.cash
    run.state.last_cash, run.state.last_withdrawable = view.cash, view.cash_withdrawable
    await notify.initiated(run, view)
    return ClosurePhase.LIQUIDATION
