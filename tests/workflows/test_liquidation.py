"""Liquidation: open orders and fractional positions; markets closed for the night, the weekend, a holiday."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from decimal import Decimal

import pytest
from temporalio.testing import WorkflowEnvironment

from closure.phases import ClosurePhase
from simulator.server import SimulatorServer
from tests.support import NEW_YORK, closure_lab, fees_paid, ny


def _when(raw: str) -> datetime:
    return datetime.fromisoformat(raw.replace("Z", "+00:00")).astimezone(NEW_YORK)


async def test_open_orders_are_cancelled_and_fractional_positions_sold(
    env: WorkflowEnvironment, sim: SimulatorServer, executor: ThreadPoolExecutor
) -> None:
    async with closure_lab(env, sim, executor, seed_at=ny(2025, 3, 4, 9, 0)) as lab:
        lab.broker.set_prices(
            {"AAPL": Decimal("187.43"), "MSFT": Decimal("401.17"), "NVDA": Decimal("118.02")}
        )
        account = lab.broker.funded_account(Decimal("25000.00"))
        lab.broker.buy(account, "AAPL", Decimal("3.5"))
        lab.broker.buy(account, "MSFT", Decimal("0.123456789"))
        resting = lab.broker.resting_buy(account, "NVDA", Decimal("10"), limit_price=Decimal("50.00"))
        lab.follow_temporal()
        progress = await lab.finish(await lab.start(account))

        assert progress.phase == ClosurePhase.COMPLETED
        orders = lab.broker.orders(account.account_id)
        by_id = {str(o.id): o for o in orders}
        assert by_id[resting].status == "canceled"
        sells = [o for o in orders if o.side == "sell"]
        assert sorted((o.symbol, o.filled_qty) for o in sells) == [("AAPL", "3.5"), ("MSFT", "0.123456789")]
        # Every cent of the deposit minus purchases plus proceeds went to the bank.
        lab.assert_invariants(account.account_id, progress)


@pytest.mark.parametrize(
    ("initiated", "market_opens", "settles_on"),
    [
        # Friday evening before Martin Luther King Jr. Day: the market next opens on Tuesday.
        (ny(2025, 1, 17, 18, 0), ny(2025, 1, 21, 9, 30), ny(2025, 1, 22, 8, 0)),
        # The evening before Thanksgiving: Friday is an early-close day, T+1 is the Monday after.
        (ny(2025, 11, 26, 18, 30), ny(2025, 11, 28, 9, 30), ny(2025, 12, 1, 8, 0)),
    ],
    ids=["friday-before-mlk-day", "eve-of-thanksgiving"],
)
async def test_liquidation_waits_for_the_open_and_settlement_counts_business_days(
    env: WorkflowEnvironment,
    sim: SimulatorServer,
    executor: ThreadPoolExecutor,
    initiated: datetime,
    market_opens: datetime,
    settles_on: datetime,
) -> None:
    seed_at = initiated.replace(hour=9, minute=45)
    async with closure_lab(env, sim, executor, seed_at=seed_at) as lab:
        lab.broker.set_prices({"VTI": Decimal("290.00")})
        account = lab.broker.funded_account(Decimal("80000.00"))
        lab.broker.buy(account, "VTI", Decimal("100"))  # $29,000 in shares, $51,000 cash
        lab.broker.advance((initiated - lab.broker.now()).total_seconds())
        lab.follow_temporal()
        started = await lab.start(account)
        waiting = await lab.until(
            started.handle, lambda p: "Market closed" in p.step, step=lab.policy.liquidation_poll_interval
        )
        assert waiting.phase == ClosurePhase.LIQUIDATION
        progress = await lab.finish(started)

        assert progress.phase == ClosurePhase.COMPLETED
        ledger = lab.ledger(account.account_id)["entries"]
        sale = next(e for e in ledger if e["kind"] == "sell")
        assert _when(sale["created_at"]) == market_opens
        withdrawals = [e for e in ledger if e["kind"] == "withdrawal"]
        # The first $50,000 of settled cash may go before the sale settles; the proceeds wait for T+1.
        assert _when(withdrawals[-1]["created_at"]) >= settles_on
        fees = fees_paid(lab.ledger(account.account_id))
        assert fees > 0
        assert sum(Decimal(e["amount"]) for e in withdrawals) == Decimal("80000.00") - fees
        lab.assert_invariants(account.account_id, progress)


async def test_a_sale_that_fills_in_parts_and_expires_at_the_close_is_sold_again_the_next_day(
    env: WorkflowEnvironment, sim: SimulatorServer, executor: ThreadPoolExecutor
) -> None:
    async with closure_lab(env, sim, executor, seed_at=ny(2025, 3, 3, 9, 45)) as lab:
        lab.broker.set_prices({"IBM": Decimal("100.00")})
        account = lab.broker.funded_account(Decimal("10000.00"))
        lab.broker.buy(account, "IBM", Decimal("50"))
        lab.broker.advance((ny(2025, 3, 3, 15, 40) - lab.broker.now()).total_seconds())
        # A thin market late in the day: 20 shares every 10 minutes, so the DAY sell fills 40 shares and its
        # last 10 expire at Monday's close. Each part is progress, so the sale is not called stalled.
        lab.broker.configure(max_fill_qty="20", partial_fill_seconds=600)
        lab.follow_temporal()
        progress = await lab.finish(await lab.start(account))

        assert progress.phase == ClosurePhase.COMPLETED
        sells = [o for o in lab.broker.orders(account.account_id) if o.side == "sell"]
        assert sorted((o.status, o.filled_qty) for o in sells) == [("expired", "40"), ("filled", "10")]
        ledger = lab.ledger(account.account_id)
        assert [e["amount"] for e in ledger["entries"] if e["kind"] == "sell"] == [
            "2000.00",
            "2000.00",
            "1000.00",
        ]
        withdrawn = sum(Decimal(e["amount"]) for e in ledger["entries"] if e["kind"] == "withdrawal")
        assert withdrawn == Decimal("10000.00") - fees_paid(ledger)
        lab.assert_invariants(account.account_id, progress)
