"""Limits and errors as the broker gives them: a per-credential rate limit told on every answer, and what
an unknown account answers."""

from __future__ import annotations

import time
from decimal import Decimal

import pytest
import requests
from alpaca.common.exceptions import APIError

from adapters.alpaca.connection import build_broker_client
from runtime.settings import AlpacaSettings
from simulator.scenarios import ScenarioBuilder
from simulator.server import SimulatorServer
from tests.support import ny

UNKNOWN = "00000000-0000-0000-0000-00000000beef"


@pytest.fixture
def broker(sim: SimulatorServer) -> ScenarioBuilder:
    builder = ScenarioBuilder(sim.url)
    builder.set_clock(ny(2025, 1, 6, 10, 0))
    return builder


def _inside_one_minute() -> None:
    if time.time() % 60 > 50:  # the budget is per wall-clock minute: keep a burst inside one
        time.sleep(61 - time.time() % 60)


def test_every_answer_tells_the_budget_and_beyond_it_the_broker_answers_429(
    sim: SimulatorServer, broker: ScenarioBuilder
) -> None:
    broker.configure(rate_limit_per_minute=3)
    _inside_one_minute()
    answers = [requests.get(f"{sim.url}/v1/clock", auth=("key", "s"), timeout=5) for _ in range(4)]

    assert [a.status_code for a in answers] == [200, 200, 200, 429]
    assert [a.headers["X-RateLimit-Remaining"] for a in answers] == ["2", "1", "0", "0"]
    assert {a.headers["X-RateLimit-Limit"] for a in answers} == {"3"}
    reset = int(answers[-1].headers["X-RateLimit-Reset"])
    assert 0 < reset - time.time() <= 60
    assert 1 <= int(answers[-1].headers["Retry-After"]) <= 60
    other = requests.get(f"{sim.url}/v1/clock", auth=("another-key", "s"), timeout=5)
    assert other.status_code == 200, "each credential has its own budget"
    assert requests.get(f"{sim.url}/_sim/clock", timeout=5).status_code == 200, (
        "the control plane is not counted"
    )


def test_alpaca_py_without_its_own_retries_sees_the_429(
    sim: SimulatorServer, broker: ScenarioBuilder
) -> None:
    broker.configure(rate_limit_per_minute=1)
    _inside_one_minute()
    client = build_broker_client(AlpacaSettings(base_url=sim.url))
    client.get_clock()
    with pytest.raises(APIError) as limited:
        client.get_clock()
    assert limited.value.status_code == 429
    assert limited.value.response.headers["X-RateLimit-Remaining"] == "0"


@pytest.mark.parametrize("status", [401, 404])
def test_an_unknown_account_answers_as_configured(
    sim: SimulatorServer, broker: ScenarioBuilder, status: int
) -> None:
    broker.configure(unknown_account_status=status)
    with pytest.raises(APIError) as unknown:
        broker.broker.get_account_by_id(UNKNOWN)
    assert unknown.value.status_code == status
    assert requests.get(f"{sim.url}/_sim/ledger/{UNKNOWN}", timeout=5).status_code == 404, (
        "control plane: 404"
    )


def test_the_default_unknown_account_answer_is_alpaca_pys_documented_401(broker: ScenarioBuilder) -> None:
    assert broker.control("GET", "/config")["unknown_account_status"] == 401


def test_an_operator_can_send_a_manual_transfer_over_the_daily_limit_and_it_counts(
    broker: ScenarioBuilder,
) -> None:
    seeded = broker.funded_account(Decimal("80000.00"))
    assert seeded.relationship_id is not None
    with pytest.raises(APIError) as refused:
        broker.withdraw(seeded, "60000.00")
    assert "daily ACH limit" in refused.value.message
    manual = broker.control(
        "POST",
        f"/accounts/{seeded.account_id}/manual_transfers",
        {"amount": "60000.00", "relationship_id": seeded.relationship_id},
    )
    assert manual["status"] == "QUEUED"
    [entry] = [e for e in broker.ledger(seeded.account_id)["entries"] if e["transfer_id"] == manual["id"]]
    assert "overridden by an operator" in entry["note"]
    with pytest.raises(APIError):
        broker.withdraw(seeded, "1.00")  # the window is used up: it counts like any other transfer
