"""The simulator behaves like the broker, as seen through the unmodified alpaca-py client."""

from __future__ import annotations

from decimal import Decimal
from typing import cast

import pytest
from alpaca.broker.enums import TransferDirection
from alpaca.broker.models import TradeAccount, Transfer
from alpaca.broker.requests import GetTransfersRequest
from alpaca.common.exceptions import APIError

from devtools.invariants import closed_only_when_empty
from simulator.scenarios import ScenarioBuilder, SeededAccount
from simulator.server import SimulatorServer
from tests.support import ny


@pytest.fixture
def broker(sim: SimulatorServer) -> ScenarioBuilder:
    builder = ScenarioBuilder(sim.url)
    builder.set_clock(ny(2025, 1, 6, 9, 45))  # a Monday
    return builder


def _account(broker: ScenarioBuilder, seeded: SeededAccount) -> TradeAccount:
    return cast(TradeAccount, broker.broker.get_trade_account_by_id(seeded.account_id))


def _withdraw(broker: ScenarioBuilder, seeded: SeededAccount, amount: str) -> Transfer:
    return broker.withdraw(seeded, amount)


def test_sale_proceeds_raise_cash_at_the_fill_and_withdrawable_at_t_plus_1(broker: ScenarioBuilder) -> None:
    broker.set_prices({"AAPL": Decimal("200.00")})
    seeded = broker.funded_account(Decimal("10000.00"))
    broker.buy(seeded, "AAPL", Decimal("10"))
    broker.broker.close_all_positions_for_account(seeded.account_id, cancel_orders=True)

    sold = _account(broker, seeded)
    # $2,000 sold: the SEC fee (0.0556 -> 0.06) and the TAF (0.00166 -> 0.01) leave with the fill.
    assert (sold.cash, sold.cash_withdrawable) == ("9999.93", "7999.93")
    broker.advance((ny(2025, 1, 7, 7, 59) - broker.now()).total_seconds())
    assert _account(broker, seeded).cash_withdrawable == "7999.93"
    broker.advance(60)  # Tuesday 08:00: settled
    assert _account(broker, seeded).cash_withdrawable == "9999.93"


def test_market_orders_placed_while_closed_fill_at_the_next_open(broker: ScenarioBuilder) -> None:
    seeded = broker.funded_account(Decimal("5000.00"))
    broker.advance((ny(2025, 1, 10, 17, 0) - broker.now()).total_seconds())  # Friday after the close
    order_id = broker.buy(seeded, "SPY", Decimal("1"))
    assert broker.orders(seeded.account_id)[0].status == "accepted"
    broker.advance((ny(2025, 1, 13, 9, 30) - broker.now()).total_seconds())
    filled = next(o for o in broker.orders(seeded.account_id) if str(o.id) == order_id)
    assert filled.status == "filled"
    assert filled.filled_at == ny(2025, 1, 13, 9, 30)


def test_outgoing_ach_debits_at_creation_and_walks_to_complete(broker: ScenarioBuilder) -> None:
    seeded = broker.funded_account(Decimal("1000.00"))
    transfer = _withdraw(broker, seeded, "400.00")
    assert transfer.status == "QUEUED"
    assert (_account(broker, seeded).cash, _account(broker, seeded).pending_transfer_out) == (
        "600.00",
        "400.00",
    )
    seen = []
    for wait in (15 * 60, 2 * 3600, 0):  # the simulator's default delays: 15 min queued, 2 h in clearing
        listed = cast(list[Transfer], broker.broker.get_transfers_for_account(seeded.account_id))
        seen.append(next(t for t in listed if t.id == transfer.id).status)
        broker.advance(wait)
    assert seen == ["QUEUED", "SENT_TO_CLEARING", "COMPLETE"]


def test_withdrawals_above_withdrawable_or_the_daily_limit_are_refused(broker: ScenarioBuilder) -> None:
    seeded = broker.funded_account(Decimal("120000.00"))
    with pytest.raises(APIError) as too_much:
        _withdraw(broker, seeded, "120000.01")
    assert too_much.value.status_code == 403
    assert "insufficient withdrawable cash" in too_much.value.message
    _withdraw(broker, seeded, "30000.00")
    _withdraw(broker, seeded, "20000.00")
    with pytest.raises(APIError) as over_limit:
        _withdraw(broker, seeded, "0.01")
    assert over_limit.value.status_code == 403
    assert "daily ACH limit" in over_limit.value.message
    broker.advance(24 * 3600 + 1)  # the window rolls past the first two
    assert _withdraw(broker, seeded, "50000.00").status == "QUEUED"


def test_amounts_must_be_positive_whole_cents(broker: ScenarioBuilder) -> None:
    seeded = broker.funded_account(Decimal("100.00"))
    with pytest.raises(APIError) as fraction:
        _withdraw(broker, seeded, "10.001")
    assert fraction.value.status_code == 422


def test_close_with_money_left_is_accepted_as_alpaca_does_and_recorded(broker: ScenarioBuilder) -> None:
    seeded = broker.funded_account(Decimal("100.00"))
    broker.buy(seeded, "SPY", Decimal("0.1"))
    left = _account(broker, seeded).cash

    broker.broker.close_account(seeded.account_id)  # Alpaca documents only 204 and 404 for a close

    assert _account(broker, seeded).status == "ACCOUNT_CLOSED"
    ledger = broker.ledger(seeded.account_id)
    [residual] = [e for e in ledger["entries"] if e["kind"] == "closed_with_residual"]
    assert residual["amount"] == left
    assert "1 open position(s)" in residual["note"]
    assert "cash balance" in residual["note"]
    assert closed_only_when_empty(ledger), "the invariant checker must call this out"


def test_a_strict_broker_refuses_the_close_while_anything_remains(broker: ScenarioBuilder) -> None:
    broker.configure(close_with_residual="refuse")
    seeded = broker.funded_account(Decimal("100.00"))
    with pytest.raises(APIError) as refused:
        broker.broker.close_account(seeded.account_id)
    assert refused.value.status_code == 422
    assert "cash balance" in refused.value.message
    assert not [e for e in broker.ledger(seeded.account_id)["entries"] if e["kind"] == "closed_with_residual"]


def test_an_empty_account_closes_with_nothing_recorded(broker: ScenarioBuilder) -> None:
    seeded = broker.funded_account(Decimal("0"))
    broker.broker.close_account(seeded.account_id)
    ledger = broker.ledger(seeded.account_id)
    assert ledger["status"] == "ACCOUNT_CLOSED"
    assert closed_only_when_empty(ledger) == []


def test_transfer_list_pages_end_with_an_empty_page(broker: ScenarioBuilder) -> None:
    seeded = broker.funded_account(Decimal("500.00"))
    for _ in range(3):
        _withdraw(broker, seeded, "1.00")
    request = GetTransfersRequest(direction=TransferDirection.OUTGOING, limit=2)
    listed = cast(list[Transfer], broker.broker.get_transfers_for_account(seeded.account_id, request))
    assert len(listed) == 3  # alpaca-py walked offset 0, 2, 4 and stopped at the empty page


def test_forced_rejection_gives_the_money_back(broker: ScenarioBuilder) -> None:
    seeded = broker.funded_account(Decimal("1000.00"))
    broker.faults([], [{"status": "REJECTED", "nth": 1, "account_id": seeded.account_id, "reason": "R03"}])
    transfer = _withdraw(broker, seeded, "700.00")
    broker.advance(3600)
    listed = cast(list[Transfer], broker.broker.get_transfers_for_account(seeded.account_id))
    rejected = next(t for t in listed if t.id == transfer.id)
    assert (rejected.status, rejected.reason) == ("REJECTED", "R03")
    assert _account(broker, seeded).cash == "1000.00"
