"""On the real dev server: the search attributes are set and visibility queries find closures by them."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal

from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from closure.progress import CancelRequest
from closure.search_attributes import CLOSURE_NEEDS_ATTENTION, CLOSURE_PHASE
from simulator.server import SimulatorServer
from tests.support import closure_lab, ny
from workflows.account_closure import AccountClosureWorkflow


async def _find(client: Client, query: str, expected: int = 1) -> list[str]:
    for _ in range(80):  # visibility is eventually consistent
        found = [w.id async for w in client.list_workflows(query)]
        if len(found) >= expected:
            return found
        await asyncio.sleep(0.25)
    raise AssertionError(f"nothing found for {query}")


async def test_closures_are_found_by_phase_account_and_attention(
    dev_env: WorkflowEnvironment, sim: SimulatorServer, executor: ThreadPoolExecutor
) -> None:
    client = dev_env.client
    async with closure_lab(dev_env, sim, executor, seed_at=ny(2025, 5, 2, 9, 45)) as lab:
        waiting = lab.broker.funded_account(Decimal("9000.00"))
        lab.broker.buy(waiting, "XLF", Decimal("20"))
        stranded = lab.broker.funded_account(Decimal("500.00"), given_name="Sam")
        assert stranded.relationship_id
        lab.broker.broker.delete_ach_relationship_for_account(stranded.account_id, stranded.relationship_id)
        lab.broker.advance((ny(2025, 5, 2, 19, 0) - lab.broker.now()).total_seconds())  # Friday evening
        lab.broker.run_clock(1.0)
        a = await lab.start(waiting)
        b = await lab.start(stranded)

        found = await _find(
            client, f'ClosurePhase = "liquidation" AND AlpacaAccountId = "{waiting.account_id}"'
        )
        assert found == [a.workflow_id]
        parked = await _find(
            client, f'ClosureNeedsAttention = true AND AlpacaAccountId = "{stranded.account_id}"'
        )
        assert parked == [b.workflow_id]
        description = await b.handle.describe()
        assert description.typed_search_attributes.get(CLOSURE_PHASE) == "needs_attention"
        assert description.typed_search_attributes.get(CLOSURE_NEEDS_ATTENTION) is True
        counted = await client.count_workflows(f'AlpacaAccountId = "{waiting.account_id}"')
        assert counted.count == 1

        for started in (a, b):
            await started.handle.execute_update(
                AccountClosureWorkflow.cancel, CancelRequest(requested_by="test", reason="cleanup")
            )
        await _find(client, f'ClosurePhase = "cancelled" AND AlpacaAccountId = "{waiting.account_id}"')
