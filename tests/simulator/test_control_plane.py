"""The /_sim control plane: clock modes, fault kinds, the ledger."""

from __future__ import annotations

import time
from datetime import datetime, timedelta
from decimal import Decimal

import pytest
import requests
from temporalio.testing import WorkflowEnvironment

from adapters.alpaca.connection import build_broker_client
from runtime.settings import AlpacaSettings
from simulator.scenarios import ScenarioBuilder
from simulator.server import SimulatorServer
from tests.support import ny


def test_the_clock_never_runs_backwards_once_something_happened(sim: SimulatorServer) -> None:
    broker = ScenarioBuilder(sim.url)
    broker.set_clock(ny(2025, 1, 6, 10, 0))
    broker.open_account()
    response = requests.post(
        f"{sim.url}/_sim/clock", json={"now": ny(2025, 1, 5, 10, 0).isoformat()}, timeout=5
    )
    assert response.status_code == 409
    assert "cannot go back" in response.json()["message"]


def test_a_running_clock_moves_at_its_rate(sim: SimulatorServer) -> None:
    broker = ScenarioBuilder(sim.url)
    broker.set_clock(ny(2025, 1, 6, 10, 0))
    broker.run_clock(3600)
    time.sleep(0.5)
    elapsed = broker.now() - ny(2025, 1, 6, 10, 0)
    assert timedelta(minutes=25) < elapsed < timedelta(hours=2)


async def test_the_clock_follows_the_time_skipping_server(
    env: WorkflowEnvironment, sim: SimulatorServer
) -> None:
    broker = ScenarioBuilder(sim.url)
    broker.set_clock(ny(2025, 1, 6, 10, 0))
    broker.follow_temporal(env.client.service_client.config.target_host)
    await env.sleep(timedelta(hours=30))
    elapsed = broker.now() - ny(2025, 1, 6, 10, 0)
    assert timedelta(hours=30) <= elapsed < timedelta(hours=30, minutes=1)


def test_error_faults_fire_by_count_and_are_reported(sim: SimulatorServer) -> None:
    broker = ScenarioBuilder(sim.url)
    broker.faults([{"route": "GET /v1/clock", "kind": "error", "status": 503, "count": 2}])
    statuses = [requests.get(f"{sim.url}/v1/clock", auth=("k", "s"), timeout=5).status_code for _ in range(3)]
    assert statuses == [503, 503, 200]
    assert broker.control("GET", "/faults")["rules"][0]["hits"] == 2


def test_a_lost_response_still_did_the_work(sim: SimulatorServer) -> None:
    broker = ScenarioBuilder(sim.url)
    broker.set_clock(ny(2025, 1, 6, 10, 0))
    seeded = broker.funded_account(Decimal("100.00"))
    broker.faults(
        [
            {
                "route": "POST /v1/accounts/{account_id}/transfers",
                "kind": "lost_response",
                "latency_seconds": 1.5,
            }
        ]
    )
    client = build_broker_client(AlpacaSettings(base_url=sim.url, request_timeout_seconds=0.5))
    body = {"amount": "10.00", "direction": "OUTGOING", "timing": "immediate", "transfer_type": "ach"}
    body["relationship_id"] = seeded.relationship_id or ""
    with pytest.raises(requests.Timeout):
        client.post(f"/accounts/{seeded.account_id}/transfers", body)
    kinds = [(e["kind"], e["amount"]) for e in broker.ledger(seeded.account_id)["entries"]]
    assert kinds == [("deposit", "100.00"), ("withdrawal", "10.00")]


def test_a_held_answer_is_the_real_one_after_the_work_is_recorded(sim: SimulatorServer) -> None:
    broker = ScenarioBuilder(sim.url)
    broker.set_clock(ny(2025, 1, 6, 10, 0))
    seeded = broker.funded_account(Decimal("100.00"))
    route = "POST /v1/accounts/{account_id}/transfers"
    broker.faults([{"route": route, "kind": "held", "latency_seconds": 1.0}])
    client = build_broker_client(AlpacaSettings(base_url=sim.url))
    body = {"amount": "10.00", "direction": "OUTGOING", "timing": "immediate", "transfer_type": "ach"}
    body["relationship_id"] = seeded.relationship_id or ""
    began = time.monotonic()
    answer = client.post(f"/accounts/{seeded.account_id}/transfers", body)
    assert time.monotonic() - began >= 1.0
    assert isinstance(answer, dict)
    assert answer["amount"] == "10.00"
    kinds = [(e["kind"], e["amount"]) for e in broker.ledger(seeded.account_id)["entries"]]
    assert kinds == [("deposit", "100.00"), ("withdrawal", "10.00")]
    refused = requests.post(
        f"{sim.url}/_sim/faults", json={"rules": [{"route": route, "kind": "held"}]}, timeout=5
    )
    assert refused.status_code == 422
    assert "latency_seconds" in refused.text


def test_the_ledger_lists_every_money_movement_in_order(sim: SimulatorServer) -> None:
    broker = ScenarioBuilder(sim.url)
    broker.set_clock(ny(2025, 1, 6, 10, 0))
    broker.set_prices({"SPY": Decimal("500.00")})
    seeded = broker.funded_account(Decimal("1000.00"))
    broker.buy(seeded, "SPY", Decimal("1"))
    broker.control("POST", f"/accounts/{seeded.account_id}/credits", {"amount": "1.23", "note": "dividend"})
    ledger = broker.ledger(seeded.account_id)
    assert [(e["kind"], e["amount"]) for e in ledger["entries"]] == [
        ("deposit", "1000.00"),
        ("buy", "500.00"),
        ("credit", "1.23"),
    ]
    assert ledger["cash"] == "501.23"
    times = [datetime.fromisoformat(e["created_at"].replace("Z", "+00:00")) for e in ledger["entries"]]
    assert times == sorted(times)


TRANSFERS = "POST /v1/accounts/{account_id}/transfers"


def _withdraw_ten(sim: SimulatorServer, account_id: str, relationship_id: str) -> None:
    client = build_broker_client(AlpacaSettings(base_url=sim.url, request_timeout_seconds=0.5))
    body = {"amount": "10.00", "direction": "OUTGOING", "timing": "immediate", "transfer_type": "ach"}
    body["relationship_id"] = relationship_id
    with pytest.raises(requests.Timeout):
        client.post(f"/accounts/{account_id}/transfers", body)


def _withdrawals(broker: ScenarioBuilder, account_id: str) -> list[dict[str, str]]:
    return [e for e in broker.ledger(account_id)["entries"] if e["kind"] == "withdrawal"]


def test_a_slow_request_is_still_processed_after_its_caller_hung_up(sim: SimulatorServer) -> None:
    broker = ScenarioBuilder(sim.url)
    broker.set_clock(ny(2025, 1, 6, 10, 0))
    seeded = broker.funded_account(Decimal("100.00"))
    broker.faults([{"route": TRANSFERS, "kind": "latency", "latency_seconds": 1.5, "count": 1}])
    _withdraw_ten(sim, seeded.account_id, seeded.relationship_id or "")
    assert _withdrawals(broker, seeded.account_id) == [], "not processed before its delay"
    time.sleep(1.5)
    assert [e["amount"] for e in _withdrawals(broker, seeded.account_id)] == ["10.00"]


def test_a_late_request_is_processed_later_on_the_broker_clock(sim: SimulatorServer) -> None:
    broker = ScenarioBuilder(sim.url)
    broker.set_clock(ny(2025, 1, 6, 10, 0))
    seeded = broker.funded_account(Decimal("100.00"))
    broker.faults([{"route": TRANSFERS, "kind": "late", "latency_seconds": 120, "count": 1}])
    arrival = broker.now()
    _withdraw_ten(sim, seeded.account_id, seeded.relationship_id or "")
    broker.advance(119)
    assert _withdrawals(broker, seeded.account_id) == [], "queued, not yet processed"
    broker.advance(1)
    [late] = _withdrawals(broker, seeded.account_id)
    assert late["amount"] == "10.00"
    created = datetime.fromisoformat(late["created_at"].replace("Z", "+00:00"))
    assert created == arrival + timedelta(seconds=120)


@pytest.mark.parametrize(
    "rule",
    [
        {"route": "/v1/clock", "kind": "error"},  # a route without its method
        {"route": "GET /v1/clock", "kind": "eror"},
        {"route": "GET /v1/clock", "kind": "error", "statuss": 503},
    ],
)
def test_a_fault_rule_it_cannot_read_is_refused_with_the_reason(
    sim: SimulatorServer, rule: dict[str, str]
) -> None:
    response = requests.post(f"{sim.url}/_sim/faults", json={"rules": [rule]}, timeout=5)
    assert response.status_code == 422
    assert "invalid body" in response.json()["message"]
    assert requests.get(f"{sim.url}/_sim/faults", timeout=5).json()["rules"] == []
