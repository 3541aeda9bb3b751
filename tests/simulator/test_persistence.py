"""With a state file the simulator survives a restart: accounts, transfers in flight, and its clock."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import cast

from alpaca.broker.enums import TransferDirection, TransferTiming
from alpaca.broker.models import Transfer
from alpaca.broker.requests import CreateACHTransferRequest

from simulator.app import Simulator
from simulator.scenarios import ScenarioBuilder
from simulator.server import SimulatorServer
from tests.support import ny


def test_a_restarted_simulator_carries_on(tmp_path: Path) -> None:
    state = tmp_path / "broker.pickle"
    with SimulatorServer(Simulator(state_file=state)) as first:
        broker = ScenarioBuilder(first.url)
        broker.set_clock(ny(2025, 6, 2, 10, 0))
        seeded = broker.funded_account(Decimal("500.00"))
        assert seeded.relationship_id
        request = CreateACHTransferRequest(
            amount="120.00",
            direction=TransferDirection.OUTGOING,
            timing=TransferTiming.IMMEDIATE,
            relationship_id=seeded.relationship_id,
        )
        in_flight = cast(Transfer, broker.broker.create_transfer_for_account(seeded.account_id, request))
        before = broker.now()
    with SimulatorServer(Simulator.load(state)) as second:
        again = ScenarioBuilder(second.url)
        assert again.now() == before
        assert [e["status"] for e in again.ledger(seeded.account_id)["entries"]] == ["COMPLETE", "QUEUED"]
        again.advance(3 * 3600)  # the walk scheduled before the restart goes on after it
        ledger = again.ledger(seeded.account_id)
    assert [(e["transfer_id"], e["status"]) for e in ledger["entries"]][-1] == (str(in_flight.id), "COMPLETE")
    assert ledger["cash"] == "380.00"
