"""Money that moves by itself: regulatory fees on sells, postings from outside, and JNLC journals."""

from __future__ import annotations

from decimal import Decimal
from typing import Any, cast

import pytest
import requests
from alpaca.broker.enums import JournalEntryType
from alpaca.broker.models import Journal, TradeAccount
from alpaca.broker.requests import CreateJournalRequest
from alpaca.common.exceptions import APIError

from simulator.scenarios import ScenarioBuilder, SeededAccount
from simulator.server import SimulatorServer
from tests.support import ny


@pytest.fixture
def broker(sim: SimulatorServer) -> ScenarioBuilder:
    builder = ScenarioBuilder(sim.url)
    builder.set_clock(ny(2025, 1, 6, 10, 0))  # a Monday, the market open
    return builder


def _entries(broker: ScenarioBuilder, seeded: SeededAccount, kind: str) -> list[dict[str, Any]]:
    return [e for e in broker.ledger(seeded.account_id)["entries"] if e["kind"] == kind]


def _account(broker: ScenarioBuilder, seeded: SeededAccount) -> TradeAccount:
    return cast(TradeAccount, broker.broker.get_trade_account_by_id(seeded.account_id))


def test_every_sell_fill_pays_the_sec_fee_and_the_taf_each_rounded_up(broker: ScenarioBuilder) -> None:
    broker.set_prices({"AAPL": Decimal("123.45"), "PENNY": Decimal("1.00")})
    seeded = broker.funded_account(Decimal("200000.00"))
    broker.buy(seeded, "AAPL", Decimal("7"))
    broker.buy(seeded, "PENNY", Decimal("100000"))
    broker.broker.close_all_positions_for_account(seeded.account_id, cancel_orders=True)

    fees = {(e["symbol"], e["note"]): e["amount"] for e in _entries(broker, seeded, "fee")}
    assert fees == {
        ("AAPL", "SEC fee"): "0.03",  # 864.15 x 27.80 / 1,000,000 = 0.0240...: up to the next cent
        ("AAPL", "FINRA TAF"): "0.01",  # 7 x 0.000166 = 0.001162
        ("PENNY", "SEC fee"): "2.78",  # 100,000.00 x 27.80 / 1,000,000
        ("PENNY", "FINRA TAF"): "8.30",  # 16.60 by the share, capped per fill
    }
    # The fees leave with the fill: cash is what was paid in, less the round trip's fees.
    assert _account(broker, seeded).cash == "199988.88"


def test_fees_can_be_switched_off_for_a_scenario_that_needs_round_numbers(broker: ScenarioBuilder) -> None:
    broker.configure(sec_fee_per_million="0", taf_fee_per_share="0")
    seeded = broker.funded_account(Decimal("1000.00"))
    broker.buy(seeded, "SPY", Decimal("1"))
    broker.broker.close_all_positions_for_account(seeded.account_id, cancel_orders=True)
    assert _entries(broker, seeded, "fee") == []
    assert _account(broker, seeded).cash == "1000.00"


def test_postings_are_signed_a_debit_takes_cash_a_credit_adds_it(broker: ScenarioBuilder) -> None:
    seeded = broker.funded_account(Decimal("100.00"))
    path = f"/accounts/{seeded.account_id}/credits"
    broker.control("POST", path, {"amount": "-12.34", "note": "ADR fee"})
    broker.control("POST", path, {"amount": "0.56", "note": "interest"})
    assert [(e["kind"], e["amount"], e["note"]) for e in broker.ledger(seeded.account_id)["entries"][1:]] == [
        ("debit", "12.34", "ADR fee"),
        ("credit", "0.56", "interest"),
    ]
    assert _account(broker, seeded).cash == "88.22"


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ({"amount": "0"}, "not zero"),
        ({"amount": "1.234"}, "whole cents"),
        ({"amount": "5", "memo": "misspelt note"}, "memo"),
    ],
)
def test_a_posting_the_broker_cannot_read_is_refused_with_the_reason(
    sim: SimulatorServer, broker: ScenarioBuilder, body: dict[str, str], reason: str
) -> None:
    seeded = broker.funded_account(Decimal("100.00"))
    answer = requests.post(f"{sim.url}/_sim/accounts/{seeded.account_id}/credits", json=body, timeout=5)
    assert answer.status_code == 422
    assert reason in answer.json()["message"]
    assert _account(broker, seeded).cash == "100.00"


def test_a_posting_for_later_lands_at_its_time_on_the_brokers_clock(broker: ScenarioBuilder) -> None:
    seeded = broker.funded_account(Decimal("100.00"))
    later = ny(2025, 1, 8, 6, 0)
    answer = broker.control(
        "POST",
        f"/accounts/{seeded.account_id}/credits",
        {"amount": "3.21", "note": "dividend", "at": later.isoformat()},
    )
    assert answer == {"scheduled_at": "2025-01-08T11:00:00Z"}
    broker.advance((later - broker.now()).total_seconds() - 1)
    assert _entries(broker, seeded, "credit") == []
    broker.advance(1)
    [credit] = _entries(broker, seeded, "credit")
    assert (credit["amount"], credit["created_at"]) == ("3.21", "2025-01-08T11:00:00Z")


def test_a_closed_account_still_receives_a_credit_as_the_real_broker_posts_one(
    broker: ScenarioBuilder,
) -> None:
    seeded = broker.funded_account(Decimal("0"))
    broker.broker.close_account(seeded.account_id)
    broker.control("POST", f"/accounts/{seeded.account_id}/credits", {"amount": "4.00", "note": "dividend"})
    ledger = broker.ledger(seeded.account_id)
    assert (ledger["status"], ledger["cash"]) == ("ACCOUNT_CLOSED", "4.00")


def _journal(broker: ScenarioBuilder, sender: SeededAccount, receiver: SeededAccount, amount: str) -> Journal:
    request = CreateJournalRequest(
        from_account=sender.account_id,
        to_account=receiver.account_id,
        entry_type=JournalEntryType.CASH,
        amount=float(amount),
    )
    return cast(Journal, broker.broker.create_journal(request))


def test_a_small_journal_executes_at_once_and_moves_cash_transferable(broker: ScenarioBuilder) -> None:
    sender, firm = broker.funded_account(Decimal("100.00")), broker.funded_account(Decimal("0"))
    journal = _journal(broker, sender, firm, "25.50")
    assert journal.status == "executed"
    assert (_account(broker, sender).cash_transferable, _account(broker, firm).cash) == ("74.50", "25.50")
    [out] = _entries(broker, sender, "journal_out")
    assert (out["amount"], out["status"]) == ("25.50", "executed")


def test_a_large_journal_waits_for_the_next_business_day_and_can_be_canceled_until_then(
    broker: ScenarioBuilder,
) -> None:
    sender, firm = broker.funded_account(Decimal("1000.00")), broker.funded_account(Decimal("0"))
    first = _journal(broker, sender, firm, "400.00")
    second = _journal(broker, sender, firm, "300.00")
    assert (first.status, second.status) == ("queued", "queued")
    assert _account(broker, sender).cash == "300.00"  # the cash leaves when the journal is made
    broker.broker.cancel_journal_by_id(second.id)
    broker.advance((ny(2025, 1, 7, 9, 0) - broker.now()).total_seconds())  # Tuesday, beginning of business
    assert cast(Journal, broker.broker.get_journal_by_id(first.id)).status == "executed"
    assert (_account(broker, sender).cash, _account(broker, firm).cash) == ("600.00", "400.00")


def test_journals_above_the_daily_limit_or_the_transferable_cash_are_refused(broker: ScenarioBuilder) -> None:
    sender, firm = broker.funded_account(Decimal("5000.00")), broker.funded_account(Decimal("0"))
    _journal(broker, sender, firm, "900.00")
    with pytest.raises(APIError) as over_limit:
        _journal(broker, sender, firm, "100.01")
    assert over_limit.value.status_code == 403
    assert "daily limit" in over_limit.value.message
    poor = broker.funded_account(Decimal("10.00"))
    with pytest.raises(APIError) as too_much:
        _journal(broker, poor, firm, "10.01")
    assert "cash_transferable" in too_much.value.message
