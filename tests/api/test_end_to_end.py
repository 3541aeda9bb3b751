"""Initiate → every phase → completed, through the HTTP API only, on the real stack."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import httpx
from temporalio.testing import WorkflowEnvironment

from api.tokens import user_token
from closure.progress import ClosureProgress
from devtools.invariants import check_completed_closure
from simulator.server import SimulatorServer
from tests.api.stack import JWT_SECRET, api_stack
from tests.support import fees_paid, ny

SCALE = 3600.0  # a simulated hour per real second, with every policy wait scaled to match


async def test_a_closure_runs_to_completion_through_the_api(
    dev_env: WorkflowEnvironment, sim: SimulatorServer, redis_url: str, tmp_path: Path
) -> None:
    address = dev_env.client.service_client.config.target_host
    with api_stack(address, sim.url, tmp_path, redis_url, time_scale=SCALE) as stack:
        stack.broker.set_clock(ny(2025, 4, 14, 9, 45))  # a Monday morning
        stack.broker.set_prices({"SPY": Decimal("500.00")})
        account = stack.broker.funded_account(Decimal("70000.00"))
        stack.broker.buy(account, "SPY", Decimal("20"))  # $10,000 of it in shares
        stack.broker.run_clock(SCALE)
        user = stack.customer(account)
        headers = {"Authorization": f"Bearer {user_token(JWT_SECRET, user)}"}

        async with httpx.AsyncClient(base_url=stack.url, headers=headers, timeout=60) as client:
            started = await client.post(f"/api/account-closure/initiate/{account.account_id}")
            assert started.status_code == 202, started.text
            body = started.json()
            assert body["confirmation_number"].startswith("CLA-")
            assert body["already_started"] is False
            again = await client.post(f"/api/account-closure/initiate/{account.account_id}")
            assert again.status_code == 202
            assert again.json()["confirmation_number"] == body["confirmation_number"]
            assert again.json()["already_started"] is True

            events: list[ClosureProgress] = []
            async with client.stream(
                "GET", f"/api/account-closure/progress/{account.account_id}/stream"
            ) as stream:
                assert stream.headers["content-type"].startswith("text/event-stream")
                async for line in stream.aiter_lines():
                    if line.startswith("data: "):
                        events.append(ClosureProgress.model_validate(json.loads(line[6:])))

            final = await client.get(f"/api/account-closure/progress/{account.account_id}")
            data = await client.get("/api/account-closure/data")

    phases = [e.phase.value for e in events]
    for expected in (
        "liquidation",
        "settlement",
        "withdrawal",
        "withdrawal_24hr_wait",
        "transfer_completion",
        "completed",
    ):
        assert expected in phases, phases
    sequences = [e.sequence for e in events]
    assert sequences == sorted(set(sequences)), "each pushed change is newer than the one before"
    assert events[-1].phase.value == "completed"
    assert final.status_code == 200
    progress = ClosureProgress.model_validate(final.json())
    assert progress.phase.value == "completed"
    ledger = stack.broker.ledger(account.account_id)
    assert progress.amount_completed == Decimal("70000.00") - fees_paid(ledger)
    assert progress.confirmation_number == body["confirmation_number"]
    assert data.json()["accounts"][0]["record_status"] == "closed"
    assert data.json()["accounts"][0]["closure"]["phase"] == "completed"
    problems = check_completed_closure(stack.broker.ledger(account.account_id), progress, Decimal("50000.00"))
    assert not problems, problems
