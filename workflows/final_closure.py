"""Final closure: the safety checks, then the close call, then ACCOUNT_CLOSED confirmed by the broker.

The broker accepts a close with money or positions left, so these checks are the only guard: flat, cash
exactly 0, nothing pending, every transfer past its returns watch and none newly failed, all read just now.
"""

from __future__ import annotations

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from activities.broker import BrokerActivities
    from closure.eligibility import is_closed
    from closure.errors import AccountNotEmpty, BrokerStateUnexpected
    from closure.phases import ClosurePhase

from workflows import notify
from workflows.halts import ClosureHalted
from workflows.run import ClosureRun
from workflows.transfers import RETURNS_WATCH, look_at_transfers, returns_watch_end


async def close(run: ClosureRun) -> ClosurePhase:
    state, policy = run.state, run.policy
    while True:
        view = await run.inspect("final safety checks")
        state.last_cash, state.last_withdrawable = view.cash, view.cash_withdrawable
        if is_closed(view):
            break
        if not view.is_flat:
            return ClosurePhase.LIQUIDATION
        if view.cash < 0:
            raise ClosureHalted.because(
                BrokerStateUnexpected(f"the account's cash is negative ({view.cash})")
            )
        if view.cash > 0:
            # Money arrived after the last transfer (a dividend, a returned deposit): send it too.
            return ClosurePhase.WITHDRAWAL if view.cash_withdrawable > 0 else ClosurePhase.SETTLEMENT
        if view.pending_transfer_out > 0 or view.pending_transfer_in > 0:
            state.step = "Waiting for pending transfers at the broker before closing"
            await run.pause(policy.transfer_poll_interval, "pending transfers before close")
            continue
        if workflow.patched(RETURNS_WATCH):
            # A return since the last look halts here, before the close.
            broker_now = await look_at_transfers(run)
            watch_end = returns_watch_end(state, policy.returns_watch)
            if any(t.in_flight for t in state.outgoing) or (watch_end and broker_now < watch_end):
                return ClosurePhase.TRANSFER_COMPLETION
        state.step = "Closing the account"
        try:
            await run.broker(
                BrokerActivities.close_account,
                run.account_id,
                summary="close the account",
                retry_initial=policy.close_verify_interval,
                budget=policy.close_verify_timeout,
            )
        except ClosureHalted as halted:
            if halted.is_a(AccountNotEmpty):
                continue  # money or an order arrived since the checks above: look again, from the top
            raise
        break
    await notify.completed(run)
    state.completed_at = workflow.now()
    return ClosurePhase.COMPLETED
