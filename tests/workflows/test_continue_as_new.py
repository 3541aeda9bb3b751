"""A long closure continues as new with its whole state, and still finishes with every invariant holding."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal

import pytest_asyncio
from temporalio.client import WorkflowExecutionStatus
from temporalio.testing import WorkflowEnvironment

from closure.phases import ClosurePhase
from closure.policy import ClosurePolicy
from closure.search_attributes import ALL as SEARCH_ATTRIBUTES
from simulator.server import SimulatorServer
from tests.conftest import SEALED, binary
from tests.support import amounts, closure_lab, ny

SCALE = 3600.0


@pytest_asyncio.fixture(scope="module")
async def short_history_env() -> AsyncIterator[WorkflowEnvironment]:
    """A dev server that suggests continue-as-new after 60 events instead of 4,096."""
    environment = await WorkflowEnvironment.start_local(
        dev_server_existing_path=binary("temporal"),
        data_converter=SEALED,
        search_attributes=SEARCH_ATTRIBUTES,
        ui=False,
        dev_server_extra_args=["--dynamic-config-value", "limit.historyCount.suggestContinueAsNew=60"],
    )
    yield environment
    await environment.shutdown()
    await asyncio.sleep(0.5)


async def test_a_closure_continues_as_new_and_completes(
    short_history_env: WorkflowEnvironment, sim: SimulatorServer, executor: ThreadPoolExecutor
) -> None:
    env = short_history_env
    # One bank day of returns watch: this test is about the runs, and each broker day costs 24 s here.
    policy = ClosurePolicy(returns_watch=1).scaled(SCALE)
    async with closure_lab(env, sim, executor, seed_at=ny(2025, 6, 9, 7, 0), policy=policy) as lab:
        account = lab.broker.funded_account(Decimal("123456.78"))
        lab.broker.run_clock(SCALE)
        started = await lab.start(account)
        progress = await asyncio.wait_for(started.handle.result(), timeout=240)

        assert progress.phase == ClosurePhase.COMPLETED
        assert progress.confirmation_number == started.confirmation_number
        assert amounts(lab, account.account_id) == [
            Decimal("50000.00"),
            Decimal("50000.00"),
            Decimal("23456.78"),
        ]
        assert [t.chunk for t in progress.transfers] == [1, 2, 3]
        assert progress.history[0].phase == ClosurePhase.INITIATED  # the history carried over every run
        runs = [w async for w in env.client.list_workflows(f'WorkflowId = "{started.workflow_id}"')]
        continued = [w for w in runs if w.status == WorkflowExecutionStatus.CONTINUED_AS_NEW]
        assert len(continued) >= 2, f"expected several runs, got {[w.status for w in runs]}"
        lab.assert_invariants(account.account_id, progress)
