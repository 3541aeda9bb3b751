"""Record the histories the replay test checks every change against.

`python -m tests.workflows.record_histories NAME...` runs the named scenarios (all of them without a name) on
the time-skipping server and writes `tests/workflows/histories/NAME.json`. Keep the histories recorded before
a `workflow.patched()` change: they prove the closures already running still replay. Record a new scenario
for each new path.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from pathlib import Path

from temporalio.api.enums.v1 import IndexedValueType
from temporalio.api.operatorservice.v1 import AddSearchAttributesRequest
from temporalio.testing import WorkflowEnvironment

from closure.phases import ClosurePhase
from closure.progress import CancelRequest, RetryRequest
from closure.search_attributes import CLI_TYPES
from simulator.server import SimulatorServer
from tests.conftest import SEALED
from tests.support import BIN_TEST_SERVER, ClosureLab, closure_lab, ny
from workflows.account_closure import AccountClosureWorkflow
from workflows.client import StartedClosure

HISTORIES = Path(__file__).parent / "histories"
_INDEXED = {
    "Keyword": IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD,
    "Bool": IndexedValueType.INDEXED_VALUE_TYPE_BOOL,
}


async def legacy_150k(lab: ClosureLab) -> StartedClosure:
    account = lab.broker.funded_account(Decimal("150000.00"))
    lab.follow_temporal()
    started = await lab.start(account)
    await lab.finish(started)
    return started


async def rejected_then_retried(lab: ClosureLab) -> StartedClosure:
    account = lab.broker.funded_account(Decimal("75000.00"))
    lab.broker.faults([], [{"status": "REJECTED", "nth": 1, "account_id": account.account_id}])
    lab.follow_temporal()
    started = await lab.start(account)
    await lab.until(started.handle, lambda p: p.phase == ClosurePhase.NEEDS_ATTENTION)
    await started.handle.execute_update(AccountClosureWorkflow.retry, RetryRequest(operator="ops"))
    await lab.finish(started)
    return started


async def cancelled_while_market_closed(lab: ClosureLab) -> StartedClosure:
    account = lab.broker.funded_account(Decimal("5000.00"))
    lab.broker.buy(account, "SPY", Decimal("2"))
    lab.broker.advance((ny(2025, 2, 7, 19, 0) - lab.broker.now()).total_seconds())
    lab.follow_temporal()
    started = await lab.start(account)
    await lab.until(
        started.handle, lambda p: "Market closed" in p.step, step=lab.policy.liquidation_poll_interval
    )
    await started.handle.execute_update(
        AccountClosureWorkflow.cancel, CancelRequest(requested_by="c", reason="x")
    )
    await lab.finish(started)
    return started


async def returned_in_watch(lab: ClosureLab) -> StartedClosure:
    account = lab.broker.funded_account(Decimal("30000.30"))
    lab.broker.faults(
        [], [{"status": "RETURNED", "nth": 1, "account_id": account.account_id, "reason": "R02"}]
    )
    lab.follow_temporal()
    started = await lab.start(account)
    await lab.until(started.handle, lambda p: p.phase == ClosurePhase.NEEDS_ATTENTION)
    await started.handle.execute_update(AccountClosureWorkflow.retry, RetryRequest(operator="ops"))
    await lab.finish(started)
    return started


async def late_create_adopted(lab: ClosureLab) -> StartedClosure:
    account = lab.broker.funded_account(Decimal("100000.00"))
    lab.broker.configure(daily_outgoing_limit="500000.00")
    route = "POST /v1/accounts/{account_id}/transfers"
    lab.broker.faults([{"route": route, "kind": "late", "skip": 1, "count": 1, "latency_seconds": 60}])
    lab.follow_temporal()
    started = await lab.start(account)
    await lab.finish(started)
    return started


SCENARIOS: dict[str, Callable[[ClosureLab], Awaitable[StartedClosure]]] = {
    "legacy_150k": legacy_150k,
    "rejected_then_retried": rejected_then_retried,
    "cancelled_while_market_closed": cancelled_while_market_closed,
    "returned_in_watch": returned_in_watch,
    "late_create_adopted": late_create_adopted,
}


async def main(names: list[str]) -> None:
    unknown = [n for n in names if n not in SCENARIOS]
    if unknown or any(n.startswith("-") for n in names):
        print(f"usage: python -m tests.workflows.record_histories [{' | '.join(SCENARIOS)}]...")
        raise SystemExit(0 if names in (["-h"], ["--help"]) else 2)
    env = await WorkflowEnvironment.start_time_skipping(
        test_server_existing_path=BIN_TEST_SERVER, data_converter=SEALED
    )
    await env.client.operator_service.add_search_attributes(
        AddSearchAttributesRequest(
            namespace=env.client.namespace, search_attributes={n: _INDEXED[k] for n, k in CLI_TYPES.items()}
        )
    )
    HISTORIES.mkdir(exist_ok=True)
    with ThreadPoolExecutor(max_workers=8) as executor:
        for name, scenario in SCENARIOS.items():
            if names and name not in names:
                continue
            with SimulatorServer() as sim:
                async with closure_lab(env, sim, executor, seed_at=ny(2025, 2, 7, 9, 45)) as lab:
                    started = await scenario(lab)
                    history = await started.handle.fetch_history()
                    (HISTORIES / f"{name}.json").write_text(history.to_json())
                    print(f"recorded {name}: {len(history.events)} events")
    await env.shutdown()
    await asyncio.sleep(0.5)


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1:]))
