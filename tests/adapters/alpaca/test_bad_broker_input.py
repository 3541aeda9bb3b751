"""Bad broker input: missing fields, unknown statuses, absurd amounts, bodies that are not JSON. Each becomes
a typed error (a retry or a needs_attention with the reason), never a crash and never a silent pass."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from adapters.alpaca.broker import AlpacaBroker
from adapters.alpaca.connection import BrokerConnection
from closure.broker_types import CreateWithdrawalInput
from closure.errors import BrokerResponseInvalid, BrokerUnavailable, WithdrawalOutcomeUnknown
from runtime.settings import AlpacaSettings
from simulator.scenarios import ScenarioBuilder
from simulator.server import SimulatorServer
from tests.support import ny

TRADE_ACCOUNT = "GET /v1/trading/accounts/{account_id}/account"
TRANSFERS = "GET /v1/accounts/{account_id}/transfers"


@pytest.fixture
def broker(sim: SimulatorServer) -> ScenarioBuilder:
    builder = ScenarioBuilder(sim.url)
    builder.set_clock(ny(2025, 1, 6, 10, 0))
    return builder


def _client(sim: SimulatorServer) -> AlpacaBroker:
    return AlpacaBroker(BrokerConnection(AlpacaSettings(base_url=sim.url, request_timeout_seconds=5)))


@pytest.mark.parametrize(
    ("fault", "says"),
    [
        ({"patch": {"cash": None}}, "cash"),  # a required field missing
        ({"patch": {"status": "FROZEN_BY_RISK"}}, "FROZEN_BY_RISK"),  # a status no enum knows
        ({"patch": {"cash": "NaN"}}, "NaN"),
        ({"patch": {"cash_withdrawable": "12,50"}}, "12,50"),
        ({"body": "<html><body>502 Bad Gateway</body></html>"}, "not JSON"),  # a proxy's page, with a 200
    ],
    ids=["missing-field", "unknown-status", "nan-amount", "comma-amount", "html-body"],
)
def test_an_account_the_client_cannot_read_is_a_typed_error_naming_what_is_wrong(
    sim: SimulatorServer, broker: ScenarioBuilder, fault: dict[str, Any], says: str
) -> None:
    seeded = broker.funded_account(Decimal("100.00"))
    broker.faults([{"route": TRADE_ACCOUNT, "kind": "malformed", **fault}])
    with pytest.raises(BrokerResponseInvalid, match=says):
        _client(sim).inspect_account(seeded.account_id)


def test_a_transfer_listed_with_a_negative_amount_is_refused_not_counted(
    sim: SimulatorServer, broker: ScenarioBuilder
) -> None:
    seeded = broker.funded_account(Decimal("100.00"))
    broker.withdraw(seeded, "10.00")
    broker.faults([{"route": TRANSFERS, "kind": "malformed", "patch": {"amount": "-10.00"}}])
    with pytest.raises(BrokerResponseInvalid, match=r"-10\.00"):
        _client(sim).outgoing(seeded.account_id)


def test_an_error_body_that_is_not_json_still_says_what_the_broker_answered(
    sim: SimulatorServer, broker: ScenarioBuilder
) -> None:
    broker.faults(
        [{"route": "GET /v1/clock", "kind": "malformed", "status": 502, "body": "<h1>Bad Gateway</h1>"}]
    )
    with pytest.raises(BrokerUnavailable, match=r"502.*Bad Gateway"):
        _client(sim)._clock()


def test_an_unreadable_answer_to_a_create_is_an_unknown_outcome_not_a_refusal(
    sim: SimulatorServer, broker: ScenarioBuilder
) -> None:
    seeded = broker.funded_account(Decimal("100.00"))
    assert seeded.relationship_id is not None
    broker.faults(
        [{"route": "POST /v1/accounts/{account_id}/transfers", "kind": "malformed", "body": "oops"}]
    )
    request = CreateWithdrawalInput(
        account_id=seeded.account_id,
        relationship_id=seeded.relationship_id,
        chunk_key="closure-x:1",
        amount=Decimal("40.00"),
        outgoing_before=[],
    )
    with pytest.raises(WithdrawalOutcomeUnknown):
        _client(sim).create_withdrawal(request)
    made = [e for e in broker.ledger(seeded.account_id)["entries"] if e["kind"] == "withdrawal"]
    assert [e["amount"] for e in made] == ["40.00"], (
        "the broker did make it: the closure must adopt, not resend"
    )


def test_a_malformed_fault_without_a_body_or_patch_is_refused(broker: ScenarioBuilder) -> None:
    with pytest.raises(RuntimeError, match=r"422.*body or patch"):
        broker.faults([{"route": TRADE_ACCOUNT, "kind": "malformed"}])
