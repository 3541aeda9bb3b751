"""ACH moves on bank business days with a 2:00 PM ET cut-off; settlement needs the banks and the exchange."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import cast

from alpaca.broker.models import TradeAccount, Transfer

from closure.bank_calendar import fed_holidays
from simulator import market_calendar
from simulator.scenarios import ScenarioBuilder, SeededAccount
from simulator.server import SimulatorServer
from tests.support import ny


def _withdraw(broker: ScenarioBuilder, seeded: SeededAccount, amount: str) -> str:
    return str(broker.withdraw(seeded, amount).id)


def _status(broker: ScenarioBuilder, seeded: SeededAccount, transfer_id: str) -> str:
    listed = cast(list[Transfer], broker.broker.get_transfers_for_account(seeded.account_id))
    return str(next(t for t in listed if str(t.id) == transfer_id).status.value)


def _at(broker: ScenarioBuilder, moment: datetime) -> None:
    broker.advance((moment - broker.now()).total_seconds())


def test_a_transfer_after_the_cut_off_on_a_friday_starts_on_monday(sim: SimulatorServer) -> None:
    broker = ScenarioBuilder(sim.url)
    broker.set_clock(ny(2025, 1, 10, 14, 30))  # Friday, after 2:00 PM ET
    seeded = broker.funded_account(Decimal("1000.00"))
    transfer_id = _withdraw(broker, seeded, "100.00")
    _at(broker, ny(2025, 1, 13, 8, 59))  # Monday, before the bank day starts
    assert _status(broker, seeded, transfer_id) == "QUEUED"
    _at(broker, ny(2025, 1, 13, 9, 16))
    assert _status(broker, seeded, transfer_id) == "SENT_TO_CLEARING"
    _at(broker, ny(2025, 1, 13, 11, 16))
    assert _status(broker, seeded, transfer_id) == "COMPLETE"


def test_a_transfer_before_the_cut_off_moves_the_same_day(sim: SimulatorServer) -> None:
    broker = ScenarioBuilder(sim.url)
    broker.set_clock(ny(2025, 1, 10, 11, 0))  # Friday; seeding takes the clock to 13:15, before the cut-off
    seeded = broker.funded_account(Decimal("1000.00"))
    transfer_id = _withdraw(broker, seeded, "100.00")
    _at(broker, ny(2025, 1, 10, 15, 31))
    assert _status(broker, seeded, transfer_id) == "COMPLETE"


def test_columbus_day_is_a_bank_holiday_though_the_exchange_trades(sim: SimulatorServer) -> None:
    broker = ScenarioBuilder(sim.url)
    broker.set_clock(ny(2025, 10, 13, 10, 0))  # Columbus Day: NYSE open, the Fed shut
    seeded = broker.funded_account(Decimal("1000.00"))
    transfer_id = _withdraw(broker, seeded, "100.00")
    _at(broker, ny(2025, 10, 13, 23, 0))
    assert _status(broker, seeded, transfer_id) == "QUEUED"
    _at(broker, ny(2025, 10, 14, 11, 16))
    assert _status(broker, seeded, transfer_id) == "COMPLETE"


def test_nothing_completes_on_a_weekend(sim: SimulatorServer) -> None:
    broker = ScenarioBuilder(sim.url)
    broker.set_clock(ny(2025, 1, 10, 11, 0))  # Friday
    seeded = broker.funded_account(Decimal("1000.00"))
    broker.configure(transfer_clearing_seconds=86400)  # a slow clearing that would end on Saturday
    transfer_id = _withdraw(broker, seeded, "100.00")
    _at(broker, ny(2025, 1, 12, 23, 0))  # Sunday night
    assert _status(broker, seeded, transfer_id) == "APPROVED"
    _at(broker, ny(2025, 1, 13, 9, 1))
    assert _status(broker, seeded, transfer_id) == "COMPLETE"


def test_a_sale_before_a_bank_holiday_settles_when_both_are_open(sim: SimulatorServer) -> None:
    broker = ScenarioBuilder(sim.url)
    broker.set_clock(ny(2025, 10, 10, 10, 0))  # Friday; Monday is Columbus Day
    broker.set_prices({"SPY": Decimal("100.00")})
    seeded = broker.funded_account(Decimal("1000.00"))
    broker.buy(seeded, "SPY", Decimal("5"))
    broker.broker.close_all_positions_for_account(seeded.account_id, cancel_orders=True)

    def withdrawable() -> str:
        account = cast(TradeAccount, broker.broker.get_trade_account_by_id(seeded.account_id))
        return str(account.cash_withdrawable)

    _at(broker, ny(2025, 10, 13, 12, 0))  # T+1 by the exchange, but the banks are shut
    assert withdrawable() == "499.97"  # the $500 sale, less its SEC fee and TAF (0.03), is not settled
    _at(broker, ny(2025, 10, 14, 8, 1))
    assert withdrawable() == "999.97"


def test_the_simulator_and_the_service_agree_on_every_bank_holiday() -> None:
    """Two implementations of the Fed's rule, kept apart on purpose, checked against each other."""
    for year in range(2024, 2036):
        assert market_calendar.bank_holidays(year) == fed_holidays(year), year
    assert date(2025, 10, 13) in market_calendar.bank_holidays(2025)  # Columbus Day
    assert date(2025, 4, 18) not in market_calendar.bank_holidays(2025)  # Good Friday: the banks open
