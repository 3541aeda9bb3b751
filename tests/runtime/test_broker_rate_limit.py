"""Broker activities on their own task queue, rate-limited by the Temporal server across every worker."""

from __future__ import annotations

import asyncio
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from pathlib import Path

import requests
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from adapters.records import UserRecord
from adapters.records.sqlite import SqliteRecords
from closure.phases import ClosurePhase
from runtime.settings import (
    AlpacaSettings,
    EmailSettings,
    RecordsSettings,
    Settings,
    TemporalSettings,
    WorkerSettings,
)
from simulator.scenarios import ScenarioBuilder
from simulator.server import SimulatorServer
from tests.conftest import SEALED
from tests.support import ny
from worker import build_workers, serve_health
from workflows.client import start_closure

RATE = 2.0  # broker activities per second, for every worker on the queue together


def _settings(queue: str, sim: SimulatorServer, tmp_path: Path, worker: WorkerSettings) -> Settings:
    return Settings(
        temporal=TemporalSettings(task_queue=queue),
        alpaca=AlpacaSettings(base_url=sim.url),
        records=RecordsSettings(sqlite_path=tmp_path / "closure.db"),
        email=EmailSettings(outbox_dir=tmp_path / "outbox"),
        worker=worker,
    )


async def test_broker_calls_are_rate_limited_across_workers(
    dev_env: WorkflowEnvironment, sim: SimulatorServer, executor: ThreadPoolExecutor, tmp_path: Path
) -> None:
    queue = f"closures-{uuid.uuid4()}"
    worker = WorkerSettings(broker_task_queue=f"{queue}-broker", broker_calls_per_minute=int(RATE * 60 * 6))
    settings = _settings(queue, sim, tmp_path, worker)
    broker = ScenarioBuilder(sim.url)
    broker.set_clock(ny(2025, 6, 3, 10, 0))
    records = SqliteRecords(settings.records.sqlite_path)
    accounts = [broker.open_account(given_name=f"Rate{i}") for i in range(4)]
    for account in accounts:
        records.upsert(
            UserRecord(user_id=account.account_id, alpaca_account_id=account.account_id, email=account.email)
        )
    broker.run_clock(1.0)
    # Two processes' worth of workers (each its own connection) on the same queues: the limit holds for all.
    second = await Client.connect(dev_env.client.service_client.config.target_host, data_converter=SEALED)
    fleet = build_workers(dev_env.client, settings, executor) + build_workers(second, settings, executor)
    assert sorted(w.task_queue for w in fleet) == sorted([queue, f"{queue}-broker"] * 2)
    runs = [asyncio.create_task(w.run()) for w in fleet]
    health = await serve_health("127.0.0.1:0", dev_env.client)
    try:
        port = health.sockets[0].getsockname()[1]
        answer = await asyncio.to_thread(requests.get, f"http://127.0.0.1:{port}/healthz", timeout=10)
        assert (answer.status_code, answer.json()) == (200, {"status": "ok"})
        started = [
            await start_closure(
                dev_env.client, a.account_id, task_queue=queue, policy=settings.closure_policy()
            )
            for a in accounts
        ]
        results = await asyncio.gather(*(s.handle.result() for s in started))
    finally:
        health.close()
        await asyncio.gather(*(w.shutdown() for w in fleet))
        await asyncio.gather(*runs, return_exceptions=True)

    assert all(r.phase == ClosurePhase.COMPLETED for r in results)
    starts: list[datetime] = []
    for s in started:
        history = await s.handle.fetch_history()
        scheduled = {
            e.event_id: e.activity_task_scheduled_event_attributes
            for e in history.events
            if e.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED
        }
        for event in history.events:
            if event.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_STARTED:
                attributes = scheduled[event.activity_task_started_event_attributes.scheduled_event_id]
                if attributes.task_queue.name == f"{queue}-broker":
                    starts.append(event.event_time.ToDatetime())
    starts.sort()
    assert len(starts) >= 12, "every broker call went through the broker queue"
    span = (starts[-1] - starts[0]).total_seconds()
    assert span >= (len(starts) - 2) / RATE, (
        f"{len(starts)} broker activities in {span:.1f} s: faster than {RATE}/s"
    )


async def test_a_429_storm_is_waited_out_as_long_as_the_broker_asks_and_no_longer(
    dev_env: WorkflowEnvironment, sim: SimulatorServer, executor: ThreadPoolExecutor, tmp_path: Path
) -> None:
    queue = f"closures-{uuid.uuid4()}"
    settings = _settings(queue, sim, tmp_path, WorkerSettings())
    broker = ScenarioBuilder(sim.url)
    broker.set_clock(ny(2025, 6, 3, 10, 0))
    account = broker.open_account(given_name="Storm")
    SqliteRecords(settings.records.sqlite_path).upsert(
        UserRecord(user_id=account.account_id, alpaca_account_id=account.account_id, email=account.email)
    )
    broker.run_clock(1.0)
    # A budget below one step's calls (the close makes seven, a look at the account five): windows end in a
    # 429 part-way through a step.
    broker.configure(rate_limit_per_minute=5, rate_limit_window_seconds=2)
    workers = build_workers(dev_env.client, settings, executor)
    runs = [asyncio.create_task(w.run()) for w in workers]
    try:
        started = await start_closure(
            dev_env.client, account.account_id, task_queue=queue, policy=settings.closure_policy()
        )
        result = await asyncio.wait_for(started.handle.result(), timeout=120)
    finally:
        await asyncio.gather(*(w.shutdown() for w in workers))
        await asyncio.gather(*runs, return_exceptions=True)

    assert result.phase == ClosurePhase.COMPLETED
    assert result.attention is None
    log = broker.control("GET", "/rate_limit")["log"]
    refused = [i for i, entry in enumerate(log) if not entry["allowed"]]
    assert refused, "the storm happened"
    early = [
        (log[i]["reset"], log[i + 1]["at"])
        for i in refused
        if i + 1 < len(log) and log[i + 1]["at"] < log[i]["reset"]
    ]
    assert early == [], "after a 429 the next call waits for the budget's reset"
