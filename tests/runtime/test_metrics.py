"""The worker's Prometheus endpoint shows the SDK's metrics and the closure's own, with sensible values."""

from __future__ import annotations

import asyncio
import re
import socket
import uuid
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from pathlib import Path

import requests
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from adapters.records import UserRecord
from adapters.records.sqlite import SqliteRecords
from closure.phases import ClosurePhase
from closure.policy import ClosurePolicy
from runtime import metrics as metrics_module
from runtime.settings import AlpacaSettings, EmailSettings, RecordsSettings, Settings, WorkerSettings
from simulator.scenarios import ScenarioBuilder
from simulator.server import SimulatorServer
from tests.conftest import SEALED
from tests.ops.broken_closure import BrokenClosureWorkflow
from tests.runtime.monitoring import deployed_metrics, exported
from tests.support import ny
from worker import build_worker, runtime_for
from workflows.client import start_closure


def _port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


FAILING_TASKS = {"closure_workflow_task_failures", "temporal_workflow_task_execution_failed"}
METRICS_SOURCE = Path(metrics_module.__file__).read_text()


def _value(metrics: str, name: str, **labels: str) -> float:
    """Sum of the samples of `name` whose labels include `labels`."""
    total, found = 0.0, False
    for line in metrics.splitlines():
        match = re.match(rf"^{name}(\{{(?P<labels>.*)\}})? (?P<value>\S+)$", line)
        if not match:
            continue
        present = dict(re.findall(r'(\w+)="([^"]*)"', match.group("labels") or ""))
        if all(present.get(k) == v for k, v in labels.items()):
            total, found = total + float(match.group("value")), True
    assert found, f"{name}{labels} not exported"
    return total


async def test_the_metrics_endpoint_exposes_closure_metrics(
    env: WorkflowEnvironment, sim: SimulatorServer, executor: ThreadPoolExecutor, tmp_path: object
) -> None:
    address = f"127.0.0.1:{_port()}"
    settings = Settings(
        alpaca=AlpacaSettings(base_url=sim.url),
        records=RecordsSettings(sqlite_path=tmp_path / "closure.db"),  # type: ignore[operator]
        email=EmailSettings(outbox_dir=tmp_path / "outbox"),  # type: ignore[operator]
        worker=WorkerSettings(metrics_address=address),
    )
    runtime = runtime_for(settings)
    assert runtime is not None
    worker_client = await Client.connect(
        env.client.service_client.config.target_host, data_converter=SEALED, runtime=runtime
    )
    broker = ScenarioBuilder(sim.url)
    broker.set_clock(ny(2025, 6, 2, 7, 0))
    account = broker.funded_account(Decimal("120000.00"))
    SqliteRecords(settings.records.sqlite_path).upsert(
        UserRecord(user_id="u-metrics", alpaca_account_id=account.account_id, email=account.email)
    )
    broker.follow_temporal(env.client.service_client.config.target_host)
    queue = f"metrics-{uuid.uuid4()}"
    async with build_worker(worker_client, settings, executor, task_queue=queue):
        started = await start_closure(
            env.client, account.account_id, task_queue=queue, policy=ClosurePolicy()
        )
        progress = await started.handle.result()
    assert progress.phase == ClosurePhase.COMPLETED

    metrics = (await asyncio.to_thread(requests.get, f"http://{address}/metrics", timeout=10)).text
    assert _value(metrics, "closure_started") == 1
    assert _value(metrics, "closure_ended", phase="completed") == 1
    assert _value(metrics, "closure_withdrawn_cents") == 12_000_000
    assert _value(metrics, "closure_transfers", status="QUEUED") == 3
    assert _value(metrics, "closure_transfers", status="COMPLETE") == 3
    assert _value(metrics, "closure_broker_calls", endpoint="POST /v1/accounts/{id}/transfers") == 3
    assert _value(metrics, "closure_broker_calls", endpoint="POST /v1/accounts/{id}/actions/close") == 1
    assert _value(metrics, "closure_phase_duration_count", phase="withdrawal_24hr_wait") == 2
    waited = _value(metrics, "closure_phase_duration_sum", phase="withdrawal_24hr_wait") / 1000 / 3600
    assert 47 < waited < 49, f"two 24 h waits, measured {waited:.1f} h"
    # Buckets from minutes to weeks: each 24 h wait lands under 2 days, not in +Inf.
    wait = {"phase": "withdrawal_24hr_wait"}
    assert _value(metrics, "closure_phase_duration_bucket", le="3600000", **wait) == 0
    assert _value(metrics, "closure_phase_duration_bucket", le="172800000", **wait) == 2
    assert _value(metrics, "closure_phase_duration_bucket", le="2419200000", **wait) == 2
    assert _value(metrics, "temporal_workflow_completed", workflow_type="AccountClosureWorkflow") == 1
    # deploy/'s alert rules and dashboard name real metrics: exported here, or (counted only on a failure)
    # on the failing worker's endpoint below, or made by our own code when a closure parks or a call fails.
    missing = deployed_metrics() - exported(metrics) - FAILING_TASKS
    assert missing <= {"closure_needs_attention", "closure_broker_errors"}, missing
    assert all(f'"{name}"' in METRICS_SOURCE for name in missing)
    assert (
        _value(metrics, "temporal_activity_execution_latency_count", activity_type="broker.create_withdrawal")
        == 3
    )


async def test_a_workflow_task_that_keeps_failing_is_counted_on_the_metrics_endpoint(
    dev_env: WorkflowEnvironment, sim: SimulatorServer, executor: ThreadPoolExecutor, tmp_path: object
) -> None:
    # On the dev server: the time-skipping server stops skipping time after a workflow whose tasks fail.
    address = f"127.0.0.1:{_port()}"
    settings = Settings(
        alpaca=AlpacaSettings(base_url=sim.url),
        records=RecordsSettings(sqlite_path=tmp_path / "closure.db"),  # type: ignore[operator]
        email=EmailSettings(outbox_dir=tmp_path / "outbox"),  # type: ignore[operator]
        worker=WorkerSettings(metrics_address=address),
    )
    worker_client = await Client.connect(
        dev_env.client.service_client.config.target_host,
        data_converter=SEALED,
        runtime=runtime_for(settings),
    )
    queue = f"broken-{uuid.uuid4()}"
    url = f"http://{address}/metrics"
    async with build_worker(
        worker_client, settings, executor, task_queue=queue, workflows=[BrokenClosureWorkflow]
    ):
        started = await start_closure(
            dev_env.client, f"acct-{uuid.uuid4()}", task_queue=queue, policy=ClosurePolicy()
        )
        failures = 0.0
        for _ in range(60):
            await asyncio.sleep(1)
            metrics = (await asyncio.to_thread(requests.get, url, timeout=10)).text
            if "closure_workflow_task_failures" in metrics:
                failures = _value(metrics, "closure_workflow_task_failures")
                if failures >= 2:
                    break
        await started.handle.terminate(reason="test finished")
    assert failures >= 2, "the worker does not export its failing workflow tasks"
    assert exported(metrics) >= FAILING_TASKS
    assert (
        _value(metrics, "temporal_workflow_task_execution_failed", workflow_type="AccountClosureWorkflow")
        >= 2
    )
