"""Finding stuck closures: every job the legacy fix-stuck script did, from Temporal, Supabase, Redis and the broker."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Literal

from pydantic import BaseModel
from temporalio.client import WorkflowExecutionStatus

from adapters.records import PENDING_CLOSURE
from adapters.redis.legacy import legacy_accounts
from closure.eligibility import is_closed
from closure.errors import ClosureError
from closure.money import ZERO, format_usd
from closure.phases import TRANSFER_SUCCESS, ClosurePhase
from ops.actions import OperationRefused
from ops.operations import Operations
from workflows.client import ALL_CLOSURES, closure_query, list_closures

StuckKind = Literal[
    "pending_without_workflow", "needs_attention", "legacy_without_workflow", "broker_disagrees",
    "money_after_close", "workflow_task_failing", "check_failed",
]  # fmt: skip
# Late ACH returns (R05, R07, R10) can come up to 60 days after the transfer.
AFTER_CLOSE_WATCH = timedelta(days=60)


class StuckClosure(BaseModel):
    kind: StuckKind
    account_id: str
    detail: str


async def find_stuck(ops: Operations) -> list[StuckClosure]:
    return [
        *await _pending_without_workflow(ops),
        *await _waiting_for_ops(ops),
        *await _legacy_without_workflow(ops),
        *await _disagreements(ops),
        *await _failing_workflow_tasks(ops),
        *await _closed_with_money(ops),
    ]


async def _pending_without_workflow(ops: Operations) -> list[StuckClosure]:
    stuck = []
    for record in await asyncio.to_thread(ops.records.with_status, PENDING_CLOSURE):
        status = await ops.status_of(record.alpaca_account_id)
        if status != WorkflowExecutionStatus.RUNNING:
            state = status.name.lower() if status else "no workflow at all"
            detail = f"user record says pending_closure; the workflow: {state}"
            stuck.append(
                StuckClosure(
                    kind="pending_without_workflow", account_id=record.alpaca_account_id, detail=detail
                )
            )
    return stuck


async def _waiting_for_ops(ops: Operations) -> list[StuckClosure]:
    stuck = []
    query = closure_query(needs_attention=True) + ' AND ExecutionStatus = "Running"'
    for summary in await list_closures(ops.client, query):
        account_id = summary.account_id or summary.workflow_id
        try:
            progress = await ops.progress(account_id)
        except OperationRefused as exc:
            stuck.append(StuckClosure(kind="check_failed", account_id=account_id, detail=str(exc)))
            continue
        reason = progress.attention.reason if progress.attention else "no reason recorded"
        stuck.append(StuckClosure(kind="needs_attention", account_id=account_id, detail=reason))
    return stuck


async def _legacy_without_workflow(ops: Operations) -> list[StuckClosure]:
    if ops.redis is None:
        return []
    detail = "legacy Redis closure state with no workflow; import it with import-legacy"
    return [
        StuckClosure(kind="legacy_without_workflow", account_id=account_id, detail=detail)
        for account_id in await asyncio.to_thread(legacy_accounts, ops.redis)
        if await ops.status_of(account_id) is None
    ]


async def _disagreements(ops: Operations) -> list[StuckClosure]:
    stuck = []
    for summary in await list_closures(ops.client, ALL_CLOSURES + ' AND ExecutionStatus = "Running"'):
        if summary.account_id is None:
            continue
        try:
            problems = await _disagreement(ops, summary.account_id)
        except (OperationRefused, ClosureError) as exc:
            stuck.append(StuckClosure(kind="check_failed", account_id=summary.account_id, detail=str(exc)))
            continue
        if problems:
            detail = "; ".join(problems)
            stuck.append(StuckClosure(kind="broker_disagrees", account_id=summary.account_id, detail=detail))
    return stuck


async def _disagreement(ops: Operations, account_id: str) -> list[str]:
    """What the broker says that the closure does not know."""
    progress = await ops.progress(account_id)
    view = await asyncio.to_thread(ops.broker.inspect_account, account_id)
    problems = []
    if is_closed(view) and progress.phase not in (
        ClosurePhase.FINAL_CLOSURE,
        ClosurePhase.COMPLETED,
    ):
        problems.append(f"the broker says ACCOUNT_CLOSED but the closure is in {progress.phase.value}")
    at_broker = {t.id: t for t in await ops.outgoing(account_id)}
    stale_after = 2 * ops.settings.closure_policy().transfer_poll_interval
    for transfer in progress.transfers:
        broker = at_broker.get(transfer.transfer_id)
        if broker is None:
            problems.append(f"transfer {transfer.transfer_id} is not at the broker")
        elif broker.status != transfer.status and broker.is_terminal and not progress.needs_attention:
            age = datetime.now(UTC) - (broker.updated_at or broker.created_at)
            if age > stale_after:
                problems.append(
                    f"transfer {transfer.chunk} is {broker.status} at the broker since {age} "
                    f"but {transfer.status} in the closure"
                )
    return problems


async def _closed_with_money(ops: Operations) -> list[StuckClosure]:
    since = (datetime.now(UTC) - AFTER_CLOSE_WATCH).strftime("%Y-%m-%dT%H:%M:%SZ")
    query = f'{ALL_CLOSURES} AND ExecutionStatus = "Completed" AND CloseTime > "{since}"'
    stuck = []
    for summary in await list_closures(ops.client, query):
        if summary.account_id is None:
            continue
        try:
            stuck += await money_after_close(ops, summary.account_id, summary.run_id)
        except (OperationRefused, ClosureError) as exc:
            stuck.append(StuckClosure(kind="check_failed", account_id=summary.account_id, detail=str(exc)))
    return stuck


async def money_after_close(
    ops: Operations, account_id: str, run_id: str | None = None
) -> list[StuckClosure]:
    """A completed closure whose account holds money again: a late return, a late credit."""
    progress = await ops.final_progress(account_id, run_id)
    if progress is None or progress.phase != ClosurePhase.COMPLETED:
        return []
    cash = await asyncio.to_thread(ops.broker.cash, account_id)
    at_broker = {t.id: t for t in await ops.outgoing(account_id)}
    came_back = [
        f"transfer {t.transfer_id} ({format_usd(t.amount)}) is {broker.status} at the broker"
        + (f" ({broker.reason})" if broker.reason else "")
        + f" but was {t.status} when the account was closed"
        for t in [*progress.transfers, *progress.unowned_transfers]
        if t.status == TRANSFER_SUCCESS
        and (broker := at_broker.get(t.transfer_id)) is not None
        and broker.status != TRANSFER_SUCCESS
    ]
    if cash == ZERO and not came_back:
        return []
    detail = "; ".join([f"the closed account holds {format_usd(cash)}", *came_back])
    return [StuckClosure(kind="money_after_close", account_id=account_id, detail=detail)]


async def _failing_workflow_tasks(ops: Operations) -> list[StuckClosure]:
    stuck = []
    for summary in await list_closures(ops.client, ALL_CLOSURES + ' AND ExecutionStatus = "Running"'):
        failure = await ops.workflow_task_failure(summary.workflow_id)
        if failure is not None:
            stuck.append(
                StuckClosure(
                    kind="workflow_task_failing",
                    account_id=summary.account_id or summary.workflow_id,
                    detail=failure,
                )
            )
    return stuck
