"""Broker activities against the simulator over HTTP, outside any workflow."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta
from datetime import time as time_of_day
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from alpaca.broker.enums import TransferDirection, TransferTiming
from alpaca.broker.requests import CreateACHTransferRequest

from adapters.alpaca.broker import AlpacaBroker
from adapters.alpaca.connection import BrokerConnection
from closure.broker_types import BusinessDeadlineInput, CreateWithdrawalInput, PlanWithdrawalInput
from closure.errors import (
    AccountNotEmpty,
    AccountNotFound,
    BrokerAuthFailed,
    BrokerUnavailable,
    WithdrawalOutcomeUnknown,
    WithdrawalRefused,
)
from runtime.settings import AlpacaSettings
from simulator.app import Simulator
from simulator.scenarios import ScenarioBuilder, SeededAccount
from simulator.server import SimulatorServer
from tests.support import ny

TRANSFERS = "POST /v1/accounts/{account_id}/transfers"


@pytest.fixture
def broker(sim: SimulatorServer) -> ScenarioBuilder:
    builder = ScenarioBuilder(sim.url)
    builder.set_clock(ny(2025, 1, 6, 9, 45))
    return builder


def broker_for(url: str, timeout: float = 1.0) -> AlpacaBroker:
    return AlpacaBroker(BrokerConnection(AlpacaSettings(base_url=url, request_timeout_seconds=timeout)))


def _chunk(seeded: SeededAccount, plan_ids: list[str], amount: str) -> CreateWithdrawalInput:
    assert seeded.relationship_id
    return CreateWithdrawalInput(
        account_id=seeded.account_id,
        relationship_id=seeded.relationship_id,
        amount=Decimal(amount),
        chunk_key="account-closure-x:withdrawal:1",
        outgoing_before=plan_ids,
    )


def test_a_retry_after_a_lost_response_adopts_the_transfer(
    sim: SimulatorServer, broker: ScenarioBuilder
) -> None:
    seeded = broker.funded_account(Decimal("60000.00"))
    acts = broker_for(sim.url, timeout=0.5)
    plan = acts.plan_withdrawal(
        PlanWithdrawalInput(account_id=seeded.account_id, daily_limit=Decimal("50000"))
    )
    broker.faults([{"route": TRANSFERS, "kind": "lost_response", "count": 1, "latency_seconds": 1.0}])
    with pytest.raises(WithdrawalOutcomeUnknown):  # sent, and no answer: not a failure, an unknown
        acts.create_withdrawal(_chunk(seeded, plan.outgoing_before, "50000.00"))
    again = acts.create_withdrawal(_chunk(seeded, plan.outgoing_before, "50000.00"))

    assert again.adopted
    withdrawals = [e for e in broker.ledger(seeded.account_id)["entries"] if e["kind"] == "withdrawal"]
    assert [(e["transfer_id"], e["amount"]) for e in withdrawals] == [(again.transfer.id, "50000.00")]


@pytest.mark.parametrize(("status", "unknown"), [(503, True), (502, True), (429, False)])
def test_a_create_answered_with_an_error_is_unknown_unless_the_broker_certainly_turned_it_away(
    sim: SimulatorServer, broker: ScenarioBuilder, status: int, unknown: bool
) -> None:
    seeded = broker.funded_account(Decimal("1000.00"))
    acts = broker_for(sim.url)
    plan = acts.plan_withdrawal(
        PlanWithdrawalInput(account_id=seeded.account_id, daily_limit=Decimal("50000"))
    )
    broker.faults([{"route": TRANSFERS, "kind": "error", "status": status, "count": 1}])
    with pytest.raises(WithdrawalOutcomeUnknown if unknown else BrokerUnavailable) as raised:
        acts.create_withdrawal(_chunk(seeded, plan.outgoing_before, "1000.00"))
    assert isinstance(raised.value, WithdrawalOutcomeUnknown) == unknown


def test_a_create_that_never_connected_is_safe_to_send_again() -> None:
    acts = broker_for("http://127.0.0.1:9")  # nothing listens: the request never left
    with pytest.raises(BrokerUnavailable) as raised:
        acts._broker.create_transfer("00000000-0000-0000-0000-000000000001", _chunk_request())
    assert raised.value.processed_maybe is False


def _chunk_request() -> CreateACHTransferRequest:
    return CreateACHTransferRequest(
        amount="1.00",
        direction=TransferDirection.OUTGOING,
        timing=TransferTiming.IMMEDIATE,
        relationship_id="00000000-0000-0000-0000-000000000000",
    )


def test_the_plan_counts_transfers_made_by_anyone_in_the_window(
    sim: SimulatorServer, broker: ScenarioBuilder
) -> None:
    seeded = broker.funded_account(Decimal("90000.00"))
    acts = broker_for(sim.url)
    first = acts.plan_withdrawal(
        PlanWithdrawalInput(account_id=seeded.account_id, daily_limit=Decimal("50000"))
    )
    manual = acts.create_withdrawal(_chunk(seeded, first.outgoing_before, "20000.00"))  # e.g. an operator's
    broker.advance(3600)
    plan = acts.plan_withdrawal(
        PlanWithdrawalInput(account_id=seeded.account_id, daily_limit=Decimal("50000"))
    )

    assert (plan.window_used, plan.limit_left, plan.amount) == (
        Decimal("20000.00"),
        Decimal("30000.00"),
        Decimal("30000.00"),
    )
    assert plan.cash_withdrawable == Decimal("70000.00")
    assert plan.window_frees_at == manual.transfer.created_at + timedelta(hours=24)


def test_a_refused_create_is_a_business_error(sim: SimulatorServer, broker: ScenarioBuilder) -> None:
    seeded = broker.funded_account(Decimal("100.00"))
    acts = broker_for(sim.url)
    with pytest.raises(WithdrawalRefused, match="insufficient withdrawable cash"):
        acts.create_withdrawal(_chunk(seeded, [], "100.01"))


def test_alpaca_py_retries_are_off(sim: SimulatorServer, broker: ScenarioBuilder) -> None:
    seeded = broker.funded_account(Decimal("100.00"))
    broker.faults([{"route": TRANSFERS, "kind": "error", "status": 429, "count": 5}])
    with pytest.raises(BrokerUnavailable, match="429"):
        broker_for(sim.url).create_withdrawal(_chunk(seeded, [], "1.00"))
    assert broker.control("GET", "/faults")["rules"][0]["hits"] == 1, "alpaca-py must not re-send a POST"


def test_every_request_has_a_timeout(sim: SimulatorServer, broker: ScenarioBuilder) -> None:
    broker.faults([{"route": "GET /v1/clock", "kind": "latency", "latency_seconds": 5}])
    started = time.monotonic()
    with pytest.raises(BrokerUnavailable, match="unreachable"):
        broker_for(sim.url, timeout=0.3)._clock()
    assert time.monotonic() - started < 3


def test_a_429_carries_the_brokers_advice_on_when_to_come_back(
    sim: SimulatorServer, broker: ScenarioBuilder
) -> None:
    broker.configure(rate_limit_per_minute=1)
    _wait_clear_of_a_minute_boundary()
    client = broker_for(sim.url)
    client._clock()
    with pytest.raises(BrokerUnavailable) as limited:
        client._clock()
    assert limited.value.processed_maybe is False
    assert limited.value.retry_after is not None
    assert timedelta(seconds=0.5) <= limited.value.retry_after <= timedelta(seconds=60)
    advice = limited.value.to_application_error().next_retry_delay
    assert advice == limited.value.retry_after, "Temporal waits what the broker asked"


def _wait_clear_of_a_minute_boundary() -> None:
    """The broker's budget is per wall-clock minute: start a short burst well inside one."""
    if time.time() % 60 > 50:
        time.sleep(61 - time.time() % 60)


@pytest.mark.parametrize(
    ("status", "error"),
    [(503, BrokerUnavailable), (502, BrokerUnavailable), (429, BrokerUnavailable), (401, BrokerAuthFailed)],
)
def test_broker_errors_are_translated(
    sim: SimulatorServer, broker: ScenarioBuilder, status: int, error: type[Exception]
) -> None:
    broker.faults([{"route": "GET /v1/clock", "kind": "error", "status": status}])
    with pytest.raises(error, match=str(status)):
        broker_for(sim.url)._clock()


@pytest.mark.parametrize("unknown_account_status", [401, 404])
def test_unknown_accounts_and_wrong_credentials(unknown_account_status: int) -> None:
    """The Broker API answers 401 for an account it does not know, like for bad credentials: the two must
    not be confused, or an unknown account would read as an outage of our credentials."""
    with SimulatorServer(Simulator(api_key="right", api_secret="secret")) as server:
        ScenarioBuilder(server.url, "right", "secret").configure(
            unknown_account_status=unknown_account_status
        )
        wrong = AlpacaBroker(
            BrokerConnection(AlpacaSettings(base_url=server.url, api_key="wrong", secret_key="secret"))
        )
        with pytest.raises(BrokerAuthFailed):
            wrong.inspect_account("00000000-0000-0000-0000-000000000001")
        right = AlpacaBroker(
            BrokerConnection(AlpacaSettings(base_url=server.url, api_key="right", secret_key="secret"))
        )
        with pytest.raises(AccountNotFound, match=str(unknown_account_status)):
            right.inspect_account("00000000-0000-0000-0000-000000000001")


class _HtmlGateway(BaseHTTPRequestHandler):
    """A proxy in front of the broker answering with an HTML error page."""

    def do_GET(self) -> None:
        body = b"<html><body>502 Bad Gateway</body></html>"
        self.send_response(502)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


def test_an_html_error_page_from_a_proxy_is_still_a_clear_retryable_error() -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _HtmlGateway)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}"
        with pytest.raises(BrokerUnavailable, match="502 Bad Gateway"):
            broker_for(url)._clock()
    finally:
        server.shutdown()


def test_the_close_is_not_sent_while_anything_is_on_the_account(
    sim: SimulatorServer, broker: ScenarioBuilder
) -> None:
    """The broker would take it (and strand the money); the adapter reads the account first and says no."""
    seeded = broker.funded_account(Decimal("12.34"))
    with pytest.raises(AccountNotEmpty, match=r"cash 12\.34"):
        broker_for(sim.url).close_account(seeded.account_id)
    ledger = broker.ledger(seeded.account_id)
    assert ledger["status"] == "ACTIVE"
    assert not [e for e in ledger["entries"] if e["kind"] == "closed_with_residual"]


def test_an_empty_account_is_closed_and_confirmed(sim: SimulatorServer, broker: ScenarioBuilder) -> None:
    seeded = broker.funded_account(Decimal("0"))
    closed = broker_for(sim.url).close_account(seeded.account_id)
    assert closed.status == "ACCOUNT_CLOSED"
    assert broker.ledger(seeded.account_id)["status"] == "ACCOUNT_CLOSED"


def test_the_transfer_list_is_read_page_by_page_and_an_expired_transfer_does_not_blind_it(
    broker: ScenarioBuilder, sim: SimulatorServer
) -> None:
    seeded = broker.funded_account(Decimal("500.00"))
    broker.faults([], [{"status": "EXPIRED", "nth": 1, "when": "QUEUED", "account_id": seeded.account_id}])
    made = [broker.withdraw(seeded, "1.00") for _ in range(101)]
    broker.advance(3600)
    listing = "GET /v1/accounts/{account_id}/transfers 200"
    before = broker.control("GET", "/requests").get(listing, 0)

    outgoing = broker_for(sim.url).outgoing(seeded.account_id)

    assert [t.id for t in outgoing] == [str(t.id) for t in made]
    assert outgoing[0].status == "EXPIRED"
    assert outgoing[0].failed
    assert broker.control("GET", "/requests")[listing] - before == 2, "a full page, then a short last one"


@pytest.mark.parametrize(
    ("sold", "settles"),
    [
        (ny(2026, 11, 10, 13, 0), ny(2026, 11, 12, 8, 0)),  # Veterans Day: the NYSE trades, the banks do not
        (ny(2026, 11, 25, 15, 59), ny(2026, 11, 27, 8, 0)),  # Thanksgiving: both closed
        (ny(2026, 12, 4, 19, 30), ny(2026, 12, 7, 8, 0)),  # a Friday evening (00:30 UTC Saturday)
    ],
)
def test_expected_settlement_counts_days_both_the_exchange_and_the_banks_open(
    sim: SimulatorServer, sold: datetime, settles: datetime
) -> None:
    request = BusinessDeadlineInput(
        start=sold.astimezone(UTC), business_days=1, bank_days_too=True, at_new_york_time=time_of_day(8, 0)
    )
    assert broker_for(sim.url).business_deadline(request) == settles
