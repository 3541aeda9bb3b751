"""A closure lab: a simulator seeded through the Broker API, a worker on a fresh task queue, and helpers."""

from __future__ import annotations

import contextlib
import json
import shutil
import sys
import tempfile
import uuid
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from temporalio.client import Client, WorkflowExecutionStatus, WorkflowHandle, WorkflowHistory
from temporalio.service import RPCError
from temporalio.testing import WorkflowEnvironment
from typer.testing import CliRunner, Result

from adapters.alpaca.broker import AlpacaBroker
from adapters.alpaca.connection import BrokerConnection
from adapters.records import UserRecord
from adapters.records.sqlite import SqliteRecords
from closure.phases import ClosurePhase
from closure.policy import ClosurePolicy
from closure.progress import ClosureProgress
from devtools.invariants import check_completed_closure
from ops.cli import app as cli_app
from ops.operations import Operations
from runtime.settings import AlertSettings, AlpacaSettings, EmailSettings, RecordsSettings, Settings
from simulator.scenarios import ScenarioBuilder, SeededAccount
from simulator.server import SimulatorServer
from worker import build_broker_worker, build_workers
from workflows.account_closure import AccountClosureWorkflow
from workflows.client import StartedClosure, start_closure

NEW_YORK = ZoneInfo("America/New_York")
BIN_TEST_SERVER = str(Path(sys.executable).parent / "temporal-test-server")


def fees_paid(ledger: dict[str, Any]) -> Decimal:
    """The regulatory fees the broker took from the account's sell fills, from its ledger."""
    return sum((Decimal(e["amount"]) for e in ledger["entries"] if e["kind"] == "fee"), Decimal(0))


def ny(year: int, month: int, day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=NEW_YORK)


@dataclass
class ClosureLab:
    env: WorkflowEnvironment
    sim: SimulatorServer
    broker: ScenarioBuilder
    task_queue: str
    policy: ClosurePolicy
    settings: Settings
    records: SqliteRecords
    executor: ThreadPoolExecutor
    started: list[StartedClosure] = field(default_factory=list)
    workers: contextlib.AsyncExitStack = field(default_factory=contextlib.AsyncExitStack)
    broker_worker: contextlib.AsyncExitStack = field(default_factory=contextlib.AsyncExitStack)

    async def start_workers(self) -> None:
        """One worker, or two when the broker activities have a task queue of their own."""
        closure_worker, *broker_worker = build_workers(
            self.env.client, self.settings, self.executor, task_queue=self.task_queue
        )
        await self.workers.enter_async_context(closure_worker)
        for worker in broker_worker:
            await self.broker_worker.enter_async_context(worker)

    async def restart_broker_worker(self) -> None:
        """Shut the broker-activity worker down and start a new one, as a deploy of a split worker does.

        Only this one: the time-skipping test server never moves a workflow task off the sticky queue of a
        workflow worker that has gone (a real server does after seconds), so restarting that one stalls time.
        """
        await self.broker_worker.aclose()
        self.broker_worker = contextlib.AsyncExitStack()
        await self.broker_worker.enter_async_context(
            build_broker_worker(self.env.client, self.settings, self.executor)
        )

    async def stop_workers(self) -> None:
        await self.broker_worker.aclose()
        await self.workers.aclose()

    def follow_temporal(self, now: datetime | None = None) -> None:
        """From here on the broker's clock moves with Temporal's (skipped) time (from `now`, if given)."""
        self.broker.follow_temporal(self.env.client.service_client.config.target_host, now)

    def cli(self, *args: str) -> Result:
        """Run the operator CLI as an operator would, configured like the worker."""
        environment = {
            "CLOSURE_TEMPORAL__ADDRESS": self.env.client.service_client.config.target_host,
            "CLOSURE_TEMPORAL__TASK_QUEUE": self.task_queue,
            "CLOSURE_ALPACA__BASE_URL": self.sim.url,
            "CLOSURE_RECORDS__SQLITE_PATH": str(self.settings.records.sqlite_path),
            "CLOSURE_REDIS_URL": self.settings.redis_url or "",
        }
        return CliRunner().invoke(cli_app, list(args), env=environment)

    def register_customer(self, account: SeededAccount) -> UserRecord:
        """The app's user_onboarding row for this account, as the API would find it."""
        existing = self.records.by_account(account.account_id)
        if existing is not None:
            return existing
        return self.records.upsert(
            UserRecord(
                user_id=f"user-{account.account_id[:8]}",
                alpaca_account_id=account.account_id,
                email=account.email,
                first_name=account.given_name,
                last_name=account.family_name,
            )
        )

    async def start(self, account: SeededAccount, policy: ClosurePolicy | None = None) -> StartedClosure:
        user = self.register_customer(account)
        started = await start_closure(
            self.env.client,
            account.account_id,
            task_queue=self.task_queue,
            policy=policy or self.policy,
            user_id=user.user_id,
        )
        self.started.append(started)
        return started

    async def terminate_leftovers(self) -> None:
        """A closure left waiting would hold activities no worker will run, and stop time-skipping for all."""
        for started in self.started:
            description = await started.handle.describe()
            if description.status == WorkflowExecutionStatus.RUNNING:
                with contextlib.suppress(RPCError):  # it may finish on its own in the meantime
                    await started.handle.terminate(reason="test finished")

    def outbox(self) -> list[dict[str, Any]]:
        """Every email delivered to the outbox, oldest first."""
        folder = self.settings.email.outbox_dir
        if not folder.exists():
            return []
        files = sorted(folder.glob("*.json"), key=lambda p: p.stat().st_mtime_ns)
        return [json.loads(p.read_text()) for p in files]

    def email_text(self, event: str) -> str:
        """The plain-text part of the one customer email sent for `event` (initiation, completion, ...)."""
        [text] = [p.read_text() for p in self.settings.email.outbox_dir.glob(f"*email_{event}.txt")]
        return text

    async def finish(self, started: StartedClosure) -> ClosureProgress:
        result: ClosureProgress = await started.handle.result()
        return result

    async def progress(self, handle: WorkflowHandle[Any, Any]) -> ClosureProgress:
        result: ClosureProgress = await handle.query(AccountClosureWorkflow.progress)
        return result

    async def until(
        self,
        handle: WorkflowHandle[Any, Any],
        condition: Callable[[ClosureProgress], bool],
        step: timedelta = timedelta(minutes=30),
        limit: timedelta = timedelta(days=30),
    ) -> ClosureProgress:
        """Skip time in steps until the closure's progress satisfies `condition`.

        For states a closure may wait in forever (needs_attention), where awaiting the result would not end.
        """
        waited = timedelta(0)
        while True:
            progress = await self.progress(handle)
            if condition(progress):
                return progress
            if waited >= limit:
                raise AssertionError(f"after {limit} the closure is still {progress.phase}: {progress.step}")
            await self.env.sleep(step)
            waited += step

    def ledger(self, account_id: str) -> dict[str, Any]:
        return self.broker.ledger(account_id)

    def assert_invariants(self, account_id: str, progress: ClosureProgress) -> None:
        problems = check_completed_closure(
            self.ledger(account_id), progress, self.policy.daily_transfer_limit
        )
        assert not problems, problems

    def outgoing(self, account_id: str) -> list[dict[str, Any]]:
        return [e for e in self.ledger(account_id)["entries"] if e["kind"] == "withdrawal"]


@asynccontextmanager
async def closure_lab(
    env: WorkflowEnvironment,
    sim: SimulatorServer,
    executor: ThreadPoolExecutor,
    seed_at: datetime,
    policy: ClosurePolicy | None = None,
    request_timeout: float = 2.0,
    ses_endpoint: str | None = None,
    redis_url: str | None = None,
    split_broker_worker: bool = False,
    alerts: AlertSettings | None = None,
) -> AsyncIterator[ClosureLab]:
    """`split_broker_worker`: the broker activities run on a worker and task queue of their own."""
    broker = ScenarioBuilder(sim.url)
    broker.set_clock(seed_at)
    workdir = Path(tempfile.mkdtemp(prefix="closure-lab-"))
    settings = Settings(
        alpaca=AlpacaSettings(base_url=sim.url, request_timeout_seconds=request_timeout),
        records=RecordsSettings(sqlite_path=workdir / "closure.db"),
        email=EmailSettings(
            backend="ses" if ses_endpoint else "outbox",
            outbox_dir=workdir / "outbox",
            ses_endpoint_url=ses_endpoint,
        ),
        redis_url=redis_url,
        alerts=alerts or AlertSettings(dead_letter_path=workdir / "alerts-dead-letter.jsonl"),
    )
    task_queue = f"closure-{uuid.uuid4()}"
    policy = policy or ClosurePolicy()
    if split_broker_worker:
        settings.worker.broker_task_queue = f"{task_queue}-broker"
        policy = policy.model_copy(update={"broker_task_queue": settings.worker.broker_task_queue})
    records = SqliteRecords(settings.records.sqlite_path)
    lab = ClosureLab(env, sim, broker, task_queue, policy, settings, records, executor)
    try:
        await lab.start_workers()
        try:
            yield lab
        finally:
            await lab.terminate_leftovers()
            await lab.stop_workers()
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


async def runs_of(client: Client, workflow_id: str, first_run_id: str | None) -> list[WorkflowHistory]:
    """The history of every run of a closure, first to last, following continue-as-new."""
    runs: list[WorkflowHistory] = []
    run_id = first_run_id
    while run_id:
        history = await client.get_workflow_handle(workflow_id, run_id=run_id).fetch_history()
        runs.append(history)
        run_id = history.events[-1].workflow_execution_continued_as_new_event_attributes.new_execution_run_id
    return runs


def transfer_times(lab: ClosureLab, account_id: str) -> list[datetime]:
    return [datetime.fromisoformat(e["created_at"].replace("Z", "+00:00")) for e in lab.outgoing(account_id)]


def amounts(lab: ClosureLab, account_id: str) -> list[Decimal]:
    return [Decimal(e["amount"]) for e in lab.outgoing(account_id)]


async def operations(lab: ClosureLab) -> Operations:
    """What the operator CLI works with, pointed at the lab's Temporal, simulator and records."""
    return Operations(
        settings=lab.settings,
        client=lab.env.client,
        records=lab.records,
        broker=AlpacaBroker(BrokerConnection(lab.settings.alpaca)),
        redis=None,
    )


def progress_snapshot(
    account_id: str, phase: ClosurePhase, sequence: int, user_id: str | None = None
) -> ClosureProgress:
    """A closure's progress as the workflow would mirror it, part way through its withdrawals."""
    return ClosureProgress(
        account_id=account_id,
        user_id=user_id,
        workflow_id=f"account-closure-{account_id}",
        confirmation_number="CLA-AAAAA-BBBBB",
        phase=phase,
        legacy_status=phase.legacy_status,
        step=phase.value,
        percent=50,
        needs_attention=False,
        attention=None,
        cash_at_start=Decimal("10.00"),
        amount_withdrawn=Decimal("0"),
        amount_completed=Decimal("0"),
        amount_remaining=Decimal("10.00"),
        transfers=[],
        next_action_at=None,
        started_at=None,
        completed_at=None,
        history=[],
        alerts=[],
        sequence=sequence,
    )
