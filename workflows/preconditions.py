"""Before anything moves: the account must be able to close, and the money must have somewhere to go."""

from __future__ import annotations

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from closure.eligibility import ineligibility, is_closed
    from closure.phases import ClosurePhase

from workflows import notify
from workflows.halts import ClosureHalted
from workflows.run import ClosureRun


async def check_preconditions(run: ClosureRun) -> ClosurePhase:
    view = await run.inspect("check the account")
    if is_closed(view):
        return ClosurePhase.FINAL_CLOSURE  # confirms, updates the user record and says goodbye
    refusal = ineligibility(view)
    if refusal is not None:
        raise ClosureHalted.because(refusal)
    run.state.relationship = view.approved_relationship
    if run.state.cash_at_start is None:
        run.state.cash_at_start = view.cash
    run.state.last_cash, run.state.last_withdrawable = view.cash, view.cash_withdrawable
    await notify.initiated(run, view)
    return ClosurePhase.LIQUIDATION
