"""The reconciliation sweep on a real Temporal Schedule: each finding alerts once, a healthy closure never."""

from __future__ import annotations

import asyncio
import json
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path
from typing import Any

from temporalio.client import Client, ScheduleActionExecutionStartWorkflow
from temporalio.testing import WorkflowEnvironment
from typer.testing import CliRunner, Result

from adapters.records import PENDING_CLOSURE, UserRecord
from adapters.records.sqlite import SqliteRecords
from closure.phases import ClosurePhase
from ops import sweep_schedule
from ops.cli import app as cli_app
from ops.sweep import SweepResult
from ops.sweep_schedule import SweepSchedule
from runtime.settings import AlpacaSettings, EmailSettings, RecordsSettings, Settings, TemporalSettings
from simulator.scenarios import ScenarioBuilder
from simulator.server import SimulatorServer
from tests.support import ny
from worker import build_workers
from workflows.client import start_closure


def _cli(settings: Settings, *args: str) -> Result:
    environment = {
        "CLOSURE_TEMPORAL__ADDRESS": settings.temporal.address,
        "CLOSURE_TEMPORAL__TASK_QUEUE": settings.temporal.task_queue,
        "CLOSURE_ALPACA__BASE_URL": str(settings.alpaca.base_url),
        "CLOSURE_RECORDS__SQLITE_PATH": str(settings.records.sqlite_path),
    }
    return CliRunner().invoke(cli_app, list(args), env=environment)


def _alerts(outbox: Path, account_id: str) -> list[dict[str, Any]]:
    found = [json.loads(p.read_text()) for p in outbox.glob("*.json")] if outbox.exists() else []
    return [m for m in found if m["message_key"].startswith("sweep:") and account_id in m["message_key"]]


async def _sweep_once(client: Client) -> SweepResult:
    schedule = client.get_schedule_handle(sweep_schedule.SWEEP_SCHEDULE_ID)
    for _ in range(200):  # the scheduler has seen the last sweep end, so it hands its result to the next
        if not (await schedule.describe()).info.running_actions:
            break
        await asyncio.sleep(0.1)
    before = len((await schedule.describe()).info.recent_actions)
    await sweep_schedule.trigger(client)
    for _ in range(200):
        actions = (await schedule.describe()).info.recent_actions
        if len(actions) > before:
            started = actions[-1].action
            assert isinstance(started, ScheduleActionExecutionStartWorkflow)
            handle = client.get_workflow_handle(
                started.workflow_id, run_id=started.first_execution_run_id, result_type=SweepResult
            )
            result: SweepResult = await handle.result()
            return result
        await asyncio.sleep(0.1)
    raise AssertionError("the triggered sweep never started")


async def test_the_sweep_alerts_each_finding_once_and_stays_quiet_on_a_healthy_closure(
    dev_env: WorkflowEnvironment, sim: SimulatorServer, executor: ThreadPoolExecutor, tmp_path: Path
) -> None:
    queue = f"closures-{uuid.uuid4()}"
    settings = Settings(
        temporal=TemporalSettings(address=dev_env.client.service_client.config.target_host, task_queue=queue),
        alpaca=AlpacaSettings(base_url=sim.url),
        records=RecordsSettings(sqlite_path=tmp_path / "closure.db"),
        email=EmailSettings(outbox_dir=tmp_path / "outbox"),
    )
    broker = ScenarioBuilder(sim.url)
    broker.set_clock(ny(2025, 6, 3, 10, 0))
    records = SqliteRecords(settings.records.sqlite_path)
    healthy, orphan = broker.open_account(given_name="Healthy"), broker.open_account(given_name="Orphan")
    for account in (healthy, orphan):
        records.upsert(
            UserRecord(user_id=account.account_id, alpaca_account_id=account.account_id, email=account.email)
        )
    broker.run_clock(1.0)
    client = dev_env.client
    workers = build_workers(client, settings, executor)
    runs = [asyncio.create_task(w.run()) for w in workers]
    try:
        started = await start_closure(
            client, healthy.account_id, task_queue=queue, policy=settings.closure_policy()
        )
        assert (await started.handle.result()).phase == ClosurePhase.COMPLETED
        # The legacy way to lose a closure: the record says pending, and nothing is running it.
        records.upsert(
            UserRecord(
                user_id=orphan.account_id,
                alpaca_account_id=orphan.account_id,
                email=orphan.email,
                status=PENDING_CLOSURE,
            )
        )
        missing = await asyncio.to_thread(_cli, settings, "schedule", "describe")
        assert missing.exit_code == 1
        assert "create it with `closure schedule create`" in " ".join(missing.output.split())
        created = await asyncio.to_thread(
            _cli, settings, "--json", "schedule", "create", "--every-minutes", "720"
        )
        assert created.exit_code == 0, created.output
        assert json.loads(created.output)["paused"] is False
        try:
            again = await asyncio.to_thread(_cli, settings, "schedule", "create")
            assert (again.exit_code, "already exists" in " ".join(again.output.split())) == (1, True)
            first = await _sweep_once(client)
            second = await _sweep_once(client)
            paused_out = await asyncio.to_thread(
                _cli, settings, "--json", "schedule", "pause", "--note", "incident 42"
            )
            paused = SweepSchedule.model_validate_json(paused_out.output)
        finally:
            await client.get_schedule_handle(sweep_schedule.SWEEP_SCHEDULE_ID).delete()
    finally:
        await asyncio.gather(*(w.shutdown() for w in workers))
        await asyncio.gather(*runs, return_exceptions=True)

    ours = {healthy.account_id, orphan.account_id}
    [finding] = [f for f in first.findings if f.account_id in ours]
    assert (finding.kind, finding.account_id) == ("pending_without_workflow", orphan.account_id)
    assert finding.key in first.alerted
    assert finding.key in {f.key for f in second.findings}, "still there on the next sweep"
    assert finding.key not in second.alerted, "and not alerted again"
    [alert] = _alerts(settings.email.outbox_dir, orphan.account_id)
    assert alert["kind"] == "ops_alert"
    assert "pending_without_workflow" in alert["subject"]
    assert _alerts(settings.email.outbox_dir, healthy.account_id) == [], "quiet on a healthy closure"
    assert (paused.every, paused.paused, paused.note) == (timedelta(hours=12), True, "incident 42")
