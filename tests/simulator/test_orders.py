"""Orders as the broker works them: partial fills, each paying its own fees, and DAY orders expiring at the
close with whatever did not fill."""

from __future__ import annotations

from decimal import Decimal

import pytest
from alpaca.broker.requests import LimitOrderRequest
from alpaca.trading.enums import OrderSide, OrderType, QueryOrderStatus, TimeInForce

from simulator.scenarios import ScenarioBuilder
from simulator.server import SimulatorServer
from tests.support import ny


@pytest.fixture
def broker(sim: SimulatorServer) -> ScenarioBuilder:
    builder = ScenarioBuilder(sim.url)
    builder.set_clock(ny(2025, 1, 6, 9, 45))  # a Monday
    return builder


def test_a_sell_fills_in_parts_and_its_unfilled_rest_expires_at_the_close(broker: ScenarioBuilder) -> None:
    broker.set_prices({"IBM": Decimal("100.00")})
    seeded = broker.funded_account(Decimal("10000.00"))
    broker.buy(seeded, "IBM", Decimal("50"))
    broker.advance((ny(2025, 1, 6, 14, 0) - broker.now()).total_seconds())  # two hours before the close
    broker.configure(max_fill_qty="20", partial_fill_seconds=3600)
    broker.broker.close_all_positions_for_account(seeded.account_id, cancel_orders=True)

    [sell] = [o for o in broker.orders(seeded.account_id) if o.side == "sell"]
    assert (sell.status, sell.filled_qty) == ("partially_filled", "20")
    broker.advance(3600)  # 15:00: a second part
    broker.advance(3600)  # 16:00: the close, before a third part
    [sell] = [o for o in broker.orders(seeded.account_id) if o.side == "sell"]
    assert (sell.status, sell.filled_qty) == ("expired", "40")
    assert sell.expired_at == ny(2025, 1, 6, 16, 0)
    [left] = broker.positions(seeded.account_id)
    assert left.qty == "10"
    assert left.qty_available == "10", "an expired order holds nothing"
    entries = broker.ledger(seeded.account_id)["entries"]
    assert [e["amount"] for e in entries if e["kind"] == "sell"] == ["2000.00", "2000.00"]
    assert len([e for e in entries if e["kind"] == "fee"]) == 4, "each fill pays its SEC fee and TAF"


def test_a_day_order_placed_after_the_close_is_for_the_next_session(broker: ScenarioBuilder) -> None:
    seeded = broker.funded_account(Decimal("1000.00"))
    broker.advance((ny(2025, 1, 6, 17, 0) - broker.now()).total_seconds())
    order_id = broker.buy(seeded, "SPY", Decimal("1"))
    broker.advance((ny(2025, 1, 7, 9, 30) - broker.now()).total_seconds())
    [order] = [o for o in broker.orders(seeded.account_id) if str(o.id) == order_id]
    assert order.status == "filled"


def test_a_resting_day_limit_order_expires_at_the_close_and_a_gtc_one_stays(broker: ScenarioBuilder) -> None:
    broker.set_prices({"KO": Decimal("60.00")})
    seeded = broker.funded_account(Decimal("1000.00"))
    gtc = broker.resting_buy(seeded, "KO", Decimal("1"), Decimal("50.00"))
    day = LimitOrderRequest(
        symbol="KO",
        qty=1,
        side=OrderSide.BUY,
        type=OrderType.LIMIT,
        time_in_force=TimeInForce.DAY,
        limit_price=50.0,
    )
    day_order = broker.submit(seeded.account_id, day)
    broker.advance((ny(2025, 1, 7, 10, 0) - broker.now()).total_seconds())
    assert [str(o.id) for o in broker.orders(seeded.account_id, QueryOrderStatus.OPEN)] == [gtc]
    [expired] = [o for o in broker.orders(seeded.account_id) if str(o.id) == day_order]
    assert (expired.status, expired.expired_at) == ("expired", ny(2025, 1, 6, 16, 0))
