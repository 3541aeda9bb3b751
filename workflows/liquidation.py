"""Liquidation: cancel open orders, close every position, wait until nothing is left.

While the market is closed the orders wait for the open, and so does the closure, by the broker's clock.
"""

from __future__ import annotations

from decimal import Decimal

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from activities.broker import BrokerActivities
    from closure.broker_types import AccountView
    from closure.errors import LiquidationStalled
    from closure.phases import ClosurePhase

from workflows.halts import ClosureHalted
from workflows.run import ClosureRun

# A sale that keeps filling (in parts, in a thin market) is not stalled: the stall clock restarts on progress.
FILL_PROGRESS = "liquidation-fill-progress"


async def liquidate(run: ClosureRun) -> ClosurePhase:
    view = await _look(run)
    orders_placed = False
    while not view.is_flat:
        if not orders_placed or view.open_orders == 0:
            run.enter(ClosurePhase.LIQUIDATION, f"Selling {len(view.positions)} position(s)")
            placed = await run.broker(
                BrokerActivities.liquidate, run.account_id, summary="cancel orders and sell"
            )
            orders_placed = True
            run.state.sell_orders_placed = run.state.sell_orders_placed or bool(placed.sell_orders)
            if placed.refused and not placed.sell_orders and view.open_orders == 0:
                raise ClosureHalted.because(
                    LiquidationStalled("the broker refused to sell: " + "; ".join(placed.refused))
                )
        await _wait_for_fills(run, view)
        view = await _look(run)
    return ClosurePhase.SETTLEMENT


async def _look(run: ClosureRun) -> AccountView:
    view = await run.inspect("check positions and orders")
    state = run.state
    state.last_cash, state.last_withdrawable = view.cash, view.cash_withdrawable
    if workflow.patched(FILL_PROGRESS):
        left = sum((abs(p.qty) for p in view.positions), Decimal(0))
        if state.liquidation_shares_left is not None and left < state.liquidation_shares_left:
            state.liquidation_open_seconds = 0.0
        state.liquidation_shares_left = left
    return view


async def _wait_for_fills(run: ClosureRun, view: AccountView) -> None:
    clock, policy = view.clock, run.policy
    if not clock.is_open:
        opens = clock.next_open.strftime("%A %Y-%m-%d %H:%M")  # the broker reports market times in ET
        run.enter(ClosurePhase.LIQUIDATION, f"Market closed: sell orders wait for the open on {opens} ET")
        wait = policy.broker_to_workflow(clock.next_open - clock.now) + policy.market_open_grace
        await run.pause(wait, "until the market opens")
        return
    if run.state.liquidation_open_seconds >= policy.liquidation_timeout.total_seconds():
        raise ClosureHalted.because(
            LiquidationStalled(
                f"{len(view.positions)} position(s) and {view.open_orders} open order(s) remain after "
                f"{policy.liquidation_timeout} of open market",
            )
        )
    run.state.step = f"Waiting for {len(view.positions)} sale(s) to fill"
    await run.pause(policy.liquidation_poll_interval, "liquidation poll")
    run.state.liquidation_open_seconds += policy.liquidation_poll_interval.total_seconds()
