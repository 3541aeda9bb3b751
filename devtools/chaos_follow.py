"""The chaos run's customers and operator: initiate through the API, follow the closures, retry parked ones,
then check every account's ledger against the DESIGN §7 invariants.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
from temporalio.client import Client, WorkflowUpdateFailedError
from temporalio.service import RPCError

from adapters.records.sqlite import SqliteRecords
from api.tokens import user_token
from closure.phases import ClosurePhase
from closure.progress import ClosureProgress, RetryRequest
from devtools.invariants import (
    closed_only_when_empty,
    daily_limit_respected,
    emails_with_ops,
    every_dollar_accounted_for,
    never_silent,
    no_duplicate_transfers,
    records_and_emails_agree,
)
from simulator.scenarios import ScenarioBuilder, SeededAccount
from workflows.account_closure import AccountClosureWorkflow
from workflows.client import list_closures

RETRIES = 4  # an operator's patience, as in the seeded simulation
OPS_DELAY = 3.0  # real seconds a parked closure waits before ops looks at it

Check = Callable[[dict[str, Any], ClosureProgress, Decimal], list[str]]
CHECKS: dict[str, Check] = {
    "duplicate transfers": lambda ledger, progress, _: no_duplicate_transfers(ledger, progress),
    "limit breaches": lambda ledger, _, limit: daily_limit_respected(ledger, limit),
    "unaccounted dollars": lambda ledger, progress, _: (
        every_dollar_accounted_for(ledger) if progress.phase == ClosurePhase.COMPLETED else []
    ),
    "closed with money left": lambda ledger, _, __: closed_only_when_empty(ledger),
    "silent closures": lambda _, progress, __: never_silent(progress),
}
RECORDS_AND_EMAILS = "records or emails disagreeing with the broker"


@dataclass
class Customer:
    user_id: str
    account: SeededAccount
    outcome: dict[str, Any] | None = None
    workflow_id: str | None = None
    retries: int = 0
    parked_since: float | None = None
    phase: ClosurePhase | None = None


@dataclass
class ChaosReport:
    closures: int
    completed: int = 0
    parked: dict[str, str] = field(default_factory=dict)
    violations: dict[str, list[str]] = field(
        default_factory=lambda: {kind: [] for kind in (*CHECKS, RECORDS_AND_EMAILS)}
    )
    ops_retries: int = 0
    emails_with_ops: int = 0  # handed to the provider by a worker killed before the answer; ops alerted
    initiate_retries: int = 0
    withdrawn: Decimal = Decimal(0)
    transfers: int = 0

    @property
    def clean(self) -> bool:
        return not any(self.violations.values())


async def initiate(api_url: str, secret: str, customer: Customer, report: ChaosReport) -> None:
    """POST initiate until the API accepts it, as the app would retry; a second call is the same closure."""
    headers = {"Authorization": f"Bearer {user_token(secret, customer.user_id, ttl_seconds=86_400)}"}
    path = f"/api/account-closure/initiate/{customer.account.account_id}"
    async with httpx.AsyncClient(base_url=api_url, headers=headers, timeout=30) as api:
        for _ in range(120):
            try:
                response = await api.post(path)
                if response.status_code == 202:
                    customer.workflow_id = response.json()["workflow_id"]
                    return
            except httpx.HTTPError:
                pass
            report.initiate_retries += 1
            await asyncio.sleep(1.0)
    raise RuntimeError(f"the API never accepted the closure of {customer.account.account_id}")


def _ended(customer: Customer) -> bool:
    if customer.phase == ClosurePhase.COMPLETED:
        return True
    return customer.phase == ClosurePhase.NEEDS_ATTENTION and customer.retries >= RETRIES


async def _retry_parked(client: Client, customer: Customer, report: ChaosReport) -> None:
    if customer.parked_since is None:
        customer.parked_since = time.monotonic()
    if customer.retries >= RETRIES or time.monotonic() - customer.parked_since < OPS_DELAY:
        return
    assert customer.workflow_id is not None
    handle = client.get_workflow_handle(customer.workflow_id)
    try:
        await handle.execute_update(
            AccountClosureWorkflow.retry,
            RetryRequest(operator="chaos-ops", note=f"retry {customer.retries + 1}"),
        )
    except WorkflowUpdateFailedError:
        customer.parked_since = None  # refused: it resumed on its own since the list was read
        return
    customer.retries += 1
    customer.parked_since = None
    report.ops_retries += 1


async def follow_closures(
    client: Client, customers: list[Customer], report: ChaosReport, queue: str, deadline: float
) -> None:
    """Until every closure completed or stayed with ops after its retries (or the deadline passes)."""
    by_workflow = {c.workflow_id: c for c in customers}
    while time.monotonic() < deadline:
        try:
            for summary in await list_closures(client, f'TaskQueue="{queue}"'):
                customer = by_workflow.get(summary.workflow_id)
                if customer is None or summary.status == "CONTINUED_AS_NEW":
                    continue
                customer.phase = summary.phase
                if summary.phase == ClosurePhase.NEEDS_ATTENTION:
                    await _retry_parked(client, customer, report)
            if all(_ended(c) for c in customers):
                return
        except RPCError:
            pass  # the dev server is restarting; look again
        await asyncio.sleep(2.0)


async def _progress(client: Client, workflow_id: str) -> ClosureProgress:
    for _ in range(60):
        try:
            handle = client.get_workflow_handle(workflow_id)
            progress: ClosureProgress = await handle.query(AccountClosureWorkflow.progress)
            return progress
        except RPCError:
            await asyncio.sleep(1.0)
    raise RuntimeError(f"closure {workflow_id} never answered its progress query")


def _emails(outbox: Path, workflow_id: str) -> list[str]:
    return [json.loads(p.read_text())["message_key"] for p in outbox.glob(f"{workflow_id}_*.json")]


async def check_accounts(
    client: Client,
    broker: ScenarioBuilder,
    customers: list[Customer],
    report: ChaosReport,
    limit: Decimal,
    records: SqliteRecords,
    outbox: Path,
) -> None:
    for customer in customers:
        account_id = customer.account.account_id
        assert customer.workflow_id is not None
        progress = await _progress(client, customer.workflow_id)
        ledger = broker.ledger(account_id)
        for kind, check in CHECKS.items():
            report.violations[kind] += [f"{account_id}: {p}" for p in check(ledger, progress, limit)]
        record = records.by_account(account_id)
        with_ops = emails_with_ops(progress)
        report.emails_with_ops += len(with_ops)
        agreed = records_and_emails_agree(
            ledger["status"],
            record.status if record else None,
            _emails(outbox, customer.workflow_id),
            with_ops,
        )
        report.violations[RECORDS_AND_EMAILS] += [f"{account_id}: {p}" for p in agreed]
        if progress.phase == ClosurePhase.COMPLETED:
            report.completed += 1
        else:
            reason = progress.attention.reason if progress.attention else "no reason"
            report.parked[account_id] = f"{progress.phase.value}: {reason}"
        withdrawals = [e for e in ledger["entries"] if e["kind"] == "withdrawal"]
        report.transfers += len(withdrawals)
        report.withdrawn += sum(
            (Decimal(e["amount"]) for e in withdrawals if e["status"] == "COMPLETE"), Decimal(0)
        )
