"""Schemathesis against the app's own OpenAPI spec, on the real stack: no 5xx, no response off its schema.

Both valid (positive) and invalid (negative) requests are generated for every operation; derandomized, so a
run is repeatable.
"""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.generation import GenerationMode
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from temporalio.testing import WorkflowEnvironment

from api.tokens import user_token
from simulator.server import SimulatorServer
from tests.api.stack import ADMIN_TOKEN, JWT_SECRET, api_stack
from tests.support import ny

USER = "schemathesis-user"
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]


@pytest.fixture(scope="module")
def api_schema(dev_env: WorkflowEnvironment, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    address = dev_env.client.service_client.config.target_host
    with SimulatorServer() as sim, api_stack(address, sim.url, tmp_path_factory.mktemp("api"), None) as stack:
        stack.broker.set_clock(ny(2025, 4, 15, 10, 0))
        stack.customer(stack.broker.funded_account(Decimal("1000.00")), user_id=USER)
        yield schemathesis.openapi.from_url(f"{stack.url}/openapi.json")


def _exercise(operation: Any, calls: list[int]) -> None:
    token = ADMIN_TOKEN if operation.path.startswith("/api/admin") else user_token(JWT_SECRET, USER)
    strategies = [operation.as_strategy(generation_mode=mode) for mode in GenerationMode]

    @given(case=st.one_of(strategies))
    @settings(
        max_examples=40,
        deadline=None,
        suppress_health_check=list(HealthCheck),
        database=None,
        derandomize=True,
    )
    def exercise(case: Any) -> None:
        response = case.call_and_validate(
            headers={"Authorization": f"Bearer {token}"}, checks=CHECKS, timeout=30
        )
        calls.append(response.status_code)

    exercise()


def test_no_server_errors_and_responses_match_the_schema(api_schema: Any) -> None:
    operations = [result.ok() for result in api_schema.get_all_operations()]
    assert len(operations) >= 9, "every route of the spec is exercised"
    calls: list[int] = []
    for operation in operations:
        _exercise(operation, calls)
    assert len(calls) > 5 * len(operations), f"only {len(calls)} requests were generated"
    assert not [code for code in calls if code >= 500]
    assert {404, 422} <= set(calls), "both valid and invalid requests were sent"
