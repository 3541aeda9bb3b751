"""A deploy in the middle of a closure, with Worker Versioning on the dev server.

A closure runs into its 24 h wait on build v1. A build whose change is not patched is promoted: the closure
cannot replay on it, its workflow task fails with a non-determinism error, and it waits, nothing lost. The
patched build is promoted through the CLI and the old workers stop: the closure moves to it and completes,
every invariant holding; a closure started afterwards takes the new path.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from pathlib import Path
from typing import Any

from temporalio.api.enums.v1 import EventType, WorkflowTaskFailedCause
from temporalio.client import Client, WorkflowExecutionStatus, WorkflowHandle
from temporalio.testing import WorkflowEnvironment
from typer.testing import CliRunner

from adapters.records import UserRecord
from adapters.records.sqlite import SqliteRecords
from closure.phases import ClosurePhase
from closure.progress import ClosureProgress, WakeSignal
from devtools.invariants import check_completed_closure
from ops import deployment
from ops.actions import OperationRefused
from ops.cli import app as cli_app
from runtime.settings import AlpacaSettings, EmailSettings, RecordsSettings, Settings, TemporalSettings
from simulator.scenarios import ScenarioBuilder, SeededAccount
from simulator.server import SimulatorServer
from tests.runtime.closure_builds import PatchedRelease, UnpatchedRelease
from tests.support import ny
from worker import build_workers
from workflows.account_closure import AccountClosureWorkflow
from workflows.client import start_closure

RATE = 3600.0  # a simulated hour each second: the 24 h wait lasts 24 s


class Build:
    """The workers of one build, started and stopped as a rollout would."""

    def __init__(
        self, client: Client, settings: Settings, executor: ThreadPoolExecutor, build_id: str, workflow: type
    ) -> None:
        worker = settings.worker.model_copy(update={"build_id": build_id})
        self._workers = build_workers(
            client, settings.model_copy(update={"worker": worker}), executor, workflows=(workflow,)
        )
        self._runs = [asyncio.create_task(w.run()) for w in self._workers]

    async def stop(self) -> None:
        await asyncio.gather(*(w.shutdown() for w in self._workers))
        await asyncio.gather(*self._runs, return_exceptions=True)


async def _promote(client: Client, name: str, build_id: str) -> None:
    for _ in range(100):  # a build is known once its workers have polled
        try:
            await deployment.promote(client, name, build_id, operator="test")
            return
        except OperationRefused:
            await asyncio.sleep(0.2)
    raise AssertionError(f"build {build_id} never registered")


async def _until(check: Callable[[], Awaitable[bool]], what: str, seconds: float = 120) -> None:
    for _ in range(int(seconds * 5)):
        if await check():
            return
        await asyncio.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


async def _failed_tasks(handle: WorkflowHandle[Any, Any]) -> list[int]:
    return [
        event.workflow_task_failed_event_attributes.cause
        async for event in handle.fetch_history_events()
        if event.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_FAILED
    ]


async def _build_of(handle: WorkflowHandle[Any, Any]) -> str:
    info = (await handle.describe()).raw_description.workflow_execution_info
    return info.versioning_info.deployment_version.build_id


def _customer(broker: ScenarioBuilder, records: SqliteRecords, cash: Decimal) -> SeededAccount:
    account = broker.funded_account(cash) if cash else broker.open_account()
    records.upsert(
        UserRecord(user_id=account.account_id, alpaca_account_id=account.account_id, email=account.email)
    )
    return account


async def test_a_closure_waiting_24_hours_on_v1_completes_on_the_patched_v2(
    dev_env: WorkflowEnvironment, sim: SimulatorServer, executor: ThreadPoolExecutor, tmp_path: Path
) -> None:
    client, queue, name = dev_env.client, f"deploy-{uuid.uuid4()}", f"closure-{uuid.uuid4().hex[:8]}"
    settings = Settings(
        temporal=TemporalSettings(address=client.service_client.config.target_host, task_queue=queue),
        alpaca=AlpacaSettings(base_url=sim.url),
        records=RecordsSettings(sqlite_path=tmp_path / "closure.db"),
        email=EmailSettings(outbox_dir=tmp_path / "outbox"),
        time_scale=RATE,
    )
    settings.worker.deployment_name = name
    policy = settings.closure_policy().model_copy(update={"returns_watch": 0})
    broker = ScenarioBuilder(sim.url)
    broker.set_clock(ny(2025, 6, 3, 10, 0))
    records = SqliteRecords(settings.records.sqlite_path)
    waiting, later = _customer(broker, records, Decimal("100000.00")), _customer(broker, records, Decimal(0))
    broker.run_clock(RATE)

    builds = [Build(client, settings, executor, "v1", AccountClosureWorkflow)]
    try:
        await _promote(client, name, "v1")
        started = await start_closure(client, waiting.account_id, task_queue=queue, policy=policy)
        handle = started.handle

        async def in_the_wait() -> bool:
            progress = await handle.query(AccountClosureWorkflow.progress)
            return progress.phase == ClosurePhase.WITHDRAWAL_24HR_WAIT

        await _until(in_the_wait, "the 24 h wait")
        assert await _build_of(handle) == "v1"

        # A rollout of a build whose change is not patched: v1's workers stop once it is current.
        builds.append(Build(client, settings, executor, "v2-unpatched", UnpatchedRelease))
        await _promote(client, name, "v2-unpatched")
        await builds.pop(0).stop()
        await handle.signal(AccountClosureWorkflow.wake, WakeSignal(reason="deploy"))

        async def nondeterministic() -> bool:
            nde = WorkflowTaskFailedCause.WORKFLOW_TASK_FAILED_CAUSE_NON_DETERMINISTIC_ERROR
            return nde in await _failed_tasks(handle)

        await _until(nondeterministic, "the unpatched build to fail the closure's workflow task")
        status = (await handle.describe()).status
        assert status == WorkflowExecutionStatus.RUNNING, "a failed workflow task loses nothing"

        # The fix: the patched build, promoted through the CLI; the unpatched one stops.
        builds.append(Build(client, settings, executor, "v2", PatchedRelease))
        await _until(lambda: _promoted_by_cli(settings, "v2"), "the CLI to promote v2", seconds=30)
        await builds.pop(0).stop()
        progress: ClosureProgress = await asyncio.wait_for(handle.result(), timeout=240)
        assert await _build_of(handle) == "v2"
        after = await start_closure(client, later.account_id, task_queue=queue, policy=policy)
        later_progress: ClosureProgress = await asyncio.wait_for(after.handle.result(), timeout=120)
        memo_before, memo_after = await handle.describe(), await after.handle.describe()
    finally:
        for build in builds:
            await build.stop()

    assert progress.phase == ClosurePhase.COMPLETED, progress.attention
    problems = check_completed_closure(
        broker.ledger(waiting.account_id), progress, policy.daily_transfer_limit
    )
    assert not problems, problems
    assert len([t for t in progress.transfers if t.status == "COMPLETE"]) == 2
    # The closure begun before the deploy kept its recorded path; one begun after took the new step.
    assert "announced_by" not in await memo_before.memo()
    assert (await memo_after.memo())["announced_by"] == "patched-release"
    assert later_progress.phase == ClosurePhase.COMPLETED


async def _promoted_by_cli(settings: Settings, build_id: str) -> bool:
    environment = {
        "CLOSURE_TEMPORAL__ADDRESS": settings.temporal.address,
        "CLOSURE_TEMPORAL__TASK_QUEUE": settings.temporal.task_queue,
        "CLOSURE_WORKER__DEPLOYMENT_NAME": settings.worker.deployment_name,
    }
    result = await asyncio.to_thread(
        CliRunner().invoke, cli_app, ["deployment", "promote", build_id], env=environment
    )
    return result.exit_code == 0
