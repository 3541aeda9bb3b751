"""Every simulator response the official Broker API spec (2022) covers validates against it.

The spec is Alpaca's own file, read from ../shared/reference at run time, not copied into the repository.
It predates `POST /v1/accounts/{id}/actions/close`, so that route is checked by alpaca-py parsing it instead.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import requests
import yaml
from openapi_core import OpenAPI
from openapi_core.contrib.requests import RequestsOpenAPIRequest, RequestsOpenAPIResponse
from openapi_schema_validator import validate as validate_schema

from simulator.scenarios import ScenarioBuilder, SeededAccount
from simulator.server import SimulatorServer
from tests.support import ny


@pytest.fixture(scope="module")
def spec(broker_spec_path: Path) -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(broker_spec_path.read_text())
    return loaded


def _seed(sim: SimulatorServer) -> tuple[ScenarioBuilder, SeededAccount, str]:
    broker = ScenarioBuilder(sim.url)
    broker.set_clock(ny(2025, 1, 6, 9, 45))
    seeded = broker.funded_account(Decimal("5000.00"))
    broker.buy(seeded, "AAPL", Decimal("2"))
    resting = broker.resting_buy(seeded, "MSFT", Decimal("1"), Decimal("1.00"))
    return broker, seeded, resting


def test_responses_validate_against_the_official_spec(sim: SimulatorServer, spec: dict[str, Any]) -> None:
    openapi = OpenAPI.from_dict({**spec, "servers": [{"url": sim.url}]})
    _broker, seeded, resting = _seed(sim)
    account = f"/v1/accounts/{seeded.account_id}"
    trading = f"/v1/trading/accounts/{seeded.account_id}"
    withdrawal = {
        "amount": "10.00",
        "direction": "OUTGOING",
        "timing": "immediate",
        "transfer_type": "ach",
        "relationship_id": seeded.relationship_id,
    }
    calls: list[tuple[str, str, dict[str, Any] | None]] = [
        ("GET", "/v1/accounts", None),
        ("GET", account, None),
        ("GET", f"{trading}/account", None),
        ("GET", f"{account}/ach_relationships", None),
        ("POST", f"{account}/transfers", withdrawal),
        ("GET", f"{account}/transfers", None),
        ("GET", f"{trading}/orders?status=all", None),
        ("GET", f"{trading}/orders/{resting}", None),
        ("GET", f"{trading}/positions", None),
        ("GET", f"{trading}/positions/AAPL", None),
        ("GET", "/v1/clock", None),
        ("GET", "/v1/calendar?start=2025-11-20&end=2025-12-31", None),
        ("DELETE", f"{trading}/orders", None),
        ("DELETE", f"{trading}/positions?cancel_orders=true", None),
    ]
    session = requests.Session()
    checked = []
    for method, path, body in calls:
        request = requests.Request(method, sim.url + path, json=body, auth=("key", "secret")).prepare()
        response = session.send(request, timeout=10)
        assert response.status_code < 300, (method, path, response.text)
        openapi.validate_response(RequestsOpenAPIRequest(request), RequestsOpenAPIResponse(response))
        checked.append(f"{method} {path.split('?')[0]}")
    assert len(checked) == len(calls)
    transfer_id = session.get(sim.url + f"{account}/transfers", auth=("k", "s"), timeout=10).json()[0]["id"]
    cancel = requests.Request(
        "DELETE", sim.url + f"{account}/transfers/{transfer_id}", auth=("k", "s")
    ).prepare()
    cancelled = session.send(cancel, timeout=10)
    assert cancelled.status_code == 204
    openapi.validate_response(RequestsOpenAPIRequest(cancel), RequestsOpenAPIResponse(cancelled))


def test_error_bodies_have_the_spec_error_shape(sim: SimulatorServer, spec: dict[str, Any]) -> None:
    _broker, seeded, _ = _seed(sim)
    error_schema = spec["components"]["schemas"]["Error"]
    refusals = [
        requests.post(
            f"{sim.url}/v1/accounts/{seeded.account_id}/transfers",
            json={"amount": "999999.00", "direction": "OUTGOING", "relationship_id": seeded.relationship_id},
            auth=("k", "s"),
            timeout=10,
        ),
        requests.post(
            f"{sim.url}/v1/accounts/{seeded.account_id}/transfers",
            json={"amount": "1.234", "direction": "OUTGOING", "relationship_id": seeded.relationship_id},
            auth=("k", "s"),
            timeout=10,
        ),
        requests.get(
            f"{sim.url}/v1/accounts/00000000-0000-0000-0000-000000000000", auth=("k", "s"), timeout=10
        ),
        requests.get(f"{sim.url}/v1/clock", timeout=10),  # no credentials
    ]
    assert [r.status_code for r in refusals] == [403, 422, 401, 401]  # an unknown account answers 401
    for refusal in refusals:
        validate_schema(refusal.json(), error_schema)
