"""ACH relationships walk QUEUED, PENDING, APPROVED; a delete walks CANCEL_REQUESTED, CANCELED, and both stay
listed as the real API lists them, statuses alpaca-py's enum cannot parse."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
import requests
from alpaca.broker.enums import ACHRelationshipStatus
from alpaca.common.exceptions import APIError
from pydantic import ValidationError

from adapters.alpaca.connection import BrokerConnection
from adapters.alpaca.gateway import AlpacaGateway
from runtime.settings import AlpacaSettings
from simulator.scenarios import ScenarioBuilder
from simulator.server import SimulatorServer
from tests.support import ny


@pytest.fixture
def broker(sim: SimulatorServer) -> ScenarioBuilder:
    builder = ScenarioBuilder(sim.url)
    builder.set_clock(ny(2025, 1, 6, 10, 0))
    return builder


def _listed(sim: SimulatorServer, account_id: str) -> list[dict[str, Any]]:
    answer = requests.get(f"{sim.url}/v1/accounts/{account_id}/ach_relationships", auth=("k", "s"), timeout=5)
    listed: list[dict[str, Any]] = answer.json()
    return listed


def test_a_new_relationship_is_queued_then_pending_then_approved(
    sim: SimulatorServer, broker: ScenarioBuilder
) -> None:
    broker.configure(ach_approval_seconds=600)
    seeded = broker.open_account()
    broker.link_bank(seeded)
    seen = [_listed(sim, seeded.account_id)[0]["status"]]
    for _ in range(2):
        broker.advance(300)
        seen.append(_listed(sim, seeded.account_id)[0]["status"])
    assert seen == ["QUEUED", "PENDING", "APPROVED"]


def test_a_deleted_relationship_stays_listed_and_only_a_filtered_read_survives_alpaca_py(
    sim: SimulatorServer, broker: ScenarioBuilder
) -> None:
    broker.configure(ach_cancel_seconds=600)
    seeded = broker.funded_account(Decimal("10.00"))
    assert seeded.relationship_id is not None
    broker.broker.delete_ach_relationship_for_account(seeded.account_id, seeded.relationship_id)
    assert [r["status"] for r in _listed(sim, seeded.account_id)] == ["CANCEL_REQUESTED"]
    with pytest.raises(APIError) as busy:
        broker.link_bank(seeded, account_number="000999888777")
    assert busy.value.status_code == 409, "one active relationship: a cancel in flight still counts"

    broker.advance(600)
    broker.link_bank(seeded, account_number="000999888777")
    assert [r["status"] for r in _listed(sim, seeded.account_id)] == ["CANCELED", "APPROVED"]
    with pytest.raises(ValidationError, match="CANCELED"):
        broker.broker.get_ach_relationships_for_account(seeded.account_id)
    approved = broker.broker.get_ach_relationships_for_account(
        seeded.account_id, statuses=[ACHRelationshipStatus.APPROVED]
    )
    assert [str(getattr(r, "bank_account_number", ""))[-4:] for r in approved] == ["8777"]
    gateway = AlpacaGateway(BrokerConnection(AlpacaSettings(base_url=sim.url)))
    assert [r.bank_account_number[-4:] for r in gateway.approved_relationships(seeded.account_id)] == ["8777"]
