"""What operators do: look at closures, find stuck ones, resume, retry, cancel, import legacy state.

This replaces `fix_stuck_account_closure.py` and `account_closure_scheduler.py`; the CLI (`ops.cli`) and
the admin API are thin faces over it. Every change has a dry run that says exactly what it would do.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

import redis
from pydantic import BaseModel
from temporalio.api.enums.v1 import EventType
from temporalio.api.failure.v1 import Failure
from temporalio.client import Client, WorkflowExecutionStatus, WorkflowHandle, WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError, FailureError
from temporalio.service import RPCError, RPCStatusCode

from adapters.alpaca.broker import AlpacaBroker
from adapters.alpaca.connection import BrokerConnection
from adapters.records import CLOSED, PENDING_CLOSURE, ClosureRecords
from adapters.records.from_settings import records_from
from adapters.redis.legacy import LegacyTransfer, closure_state, legacy_accounts, read_legacy
from closure.broker_types import TransferView
from closure.confirmation import workflow_id_for
from closure.money import format_usd
from closure.operator_rules import OperatorAction
from closure.operators import Actor
from closure.progress import CancelRequest, ClosureProgress, ClosureState, OperatorResult, RetryRequest
from ops.actions import Action, ClosureNotFound, ClosureUnreachable, OperationRefused
from ops.audit import audited, outcome_of, record
from runtime.settings import Settings
from workflows.account_closure import AccountClosureWorkflow
from workflows.client import start_closure

T = TypeVar("T")

QUERY_TIMEOUT = timedelta(seconds=10)  # a closure whose workers are all gone must not hang the operator
# A workflow task on its third attempt has failed twice: code, not a passing hiccup.
FAILING_TASK_ATTEMPTS = 3


@dataclass
class Operations:
    settings: Settings
    client: Client
    records: ClosureRecords
    broker: AlpacaBroker
    redis: redis.Redis | None

    @classmethod
    def from_settings(cls, settings: Settings, client: Client) -> Operations:
        return cls(
            settings=settings,
            client=client,
            records=records_from(settings),
            broker=AlpacaBroker(BrokerConnection(settings.alpaca)),
            redis=redis.Redis.from_url(settings.redis_url) if settings.redis_url else None,
        )

    def handle(self, account_id: str) -> WorkflowHandle[AccountClosureWorkflow, ClosureProgress]:
        return self.client.get_workflow_handle_for(AccountClosureWorkflow.run, workflow_id_for(account_id))

    def ui_link(self, account_id: str) -> str:
        temporal = self.settings.temporal
        return f"{temporal.ui_url}/namespaces/{temporal.namespace}/workflows/{workflow_id_for(account_id)}"

    async def status_of(self, account_id: str) -> WorkflowExecutionStatus | None:
        try:
            return (await self.handle(account_id).describe()).status
        except RPCError as exc:
            if exc.status == RPCStatusCode.NOT_FOUND:
                return None
            raise

    async def progress(self, account_id: str) -> ClosureProgress:
        try:
            return await self.handle(account_id).query(
                AccountClosureWorkflow.progress, rpc_timeout=QUERY_TIMEOUT
            )
        except RPCError as exc:
            raise _unanswered(account_id, exc) from exc

    async def final_progress(self, account_id: str, run_id: str | None = None) -> ClosureProgress | None:
        """A finished closure's last progress, read from its history (no worker replays it); None if it runs."""
        handle = self.client.get_workflow_handle_for(
            AccountClosureWorkflow.run, workflow_id_for(account_id), run_id=run_id
        )
        try:
            if (await handle.describe(rpc_timeout=QUERY_TIMEOUT)).status != WorkflowExecutionStatus.COMPLETED:
                return None
            return await handle.result(follow_runs=False, rpc_timeout=QUERY_TIMEOUT)
        except RPCError as exc:
            raise OperationRefused(
                f"closure {account_id}: cannot read its result ({exc.status.name})"
            ) from exc

    async def workflow_task_failure(self, workflow_id: str) -> str | None:
        """Why the workflow's tasks keep failing (the closure cannot move at all), or None if they do not."""
        handle = self.client.get_workflow_handle(workflow_id)
        try:
            described = await handle.describe(rpc_timeout=QUERY_TIMEOUT)
        except RPCError as exc:
            return None if exc.status == RPCStatusCode.NOT_FOUND else f"cannot describe it: {exc.status.name}"
        pending = described.raw_description.pending_workflow_task
        if pending.attempt < FAILING_TASK_ATTEMPTS:
            return None
        last = "no failure recorded"
        async for event in handle.fetch_history_events(rpc_timeout=QUERY_TIMEOUT):
            if event.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_FAILED:
                last = await self._opened(event.workflow_task_failed_event_attributes.failure)
        since = pending.original_scheduled_time.ToDatetime(tzinfo=UTC)
        return (
            f"workflow task failing (attempt {pending.attempt}, since {since:%Y-%m-%d %H:%M:%S} UTC): {last}"
        )

    async def _opened(self, failure: Failure) -> str:
        """A failure as "Type: message"; with sealed payloads its message is among the sealed attributes."""
        error = await self.client.data_converter.decode_failure(failure)
        kind = error.type if isinstance(error, ApplicationError) else None
        message = error.message if isinstance(error, FailureError) else str(error)
        return f"{kind or 'error'}: {message}"

    async def outgoing(self, account_id: str) -> list[TransferView]:
        return await asyncio.to_thread(self.broker.outgoing, account_id)

    # --- changing --------------------------------------------------------------------------------------------

    async def _broker_owned_state(
        self,
        account_id: str,
        since: datetime,
        confirmation: str | None,
        known: list[LegacyTransfer],
        note: str,
    ) -> ClosureState:
        outgoing = [t for t in await self.outgoing(account_id) if t.created_at >= since]
        return closure_state(account_id, confirmation, since, known, outgoing, note)

    async def resume(self, account_id: str, dry_run: bool, actor: Actor) -> Action:
        work = self._resume(account_id, dry_run)
        return await audited(self.records, actor, "resume", account_id, "", dry_run, work)

    async def _resume(self, account_id: str, dry_run: bool) -> Action:
        status = await self.status_of(account_id)
        if status == WorkflowExecutionStatus.RUNNING:
            progress = await self.progress(account_id)
            return Action(
                account_id=account_id,
                action="none",
                detail=f"already running ({progress.phase.value})",
                done=False,
            )
        record = await asyncio.to_thread(self.records.by_account, account_id)
        if record is None:
            raise OperationRefused(f"no user record for account {account_id}; nothing says it should close")
        if record.status == CLOSED:
            return Action(
                account_id=account_id, action="none", detail="the user record is already closed", done=False
            )
        since = record.account_closure_initiated_at or datetime.now(UTC)
        state = await self._broker_owned_state(
            account_id, since, None, [], "Resumed by an operator from broker truth"
        )
        detail = _start_detail(account_id, state, since)
        if dry_run:
            return Action(account_id=account_id, action="would start", detail=detail, done=False)
        await self._start(account_id, record.user_id, state)
        return Action(account_id=account_id, action="started", detail=detail, done=True)

    async def resume_all(self, dry_run: bool, actor: Actor) -> list[Action]:
        pending = await asyncio.to_thread(self.records.with_status, PENDING_CLOSURE)
        return [await self.resume(record.alpaca_account_id, dry_run, actor) for record in pending]

    async def import_legacy(self, account_id: str | None, dry_run: bool, actor: Actor) -> list[Action]:
        actions = await self._import_legacy(account_id, dry_run)
        for done in actions:
            await record(
                self.records,
                actor,
                "import-legacy",
                done.account_id,
                dry_run,
                "",
                outcome_of(done, dry_run),
                done.detail,
            )
        return actions

    async def _import_legacy(self, account_id: str | None, dry_run: bool) -> list[Action]:
        if self.redis is None:
            raise OperationRefused("set REDIS_URL to read the legacy closure state")
        accounts = [account_id] if account_id else await asyncio.to_thread(legacy_accounts, self.redis)
        actions = []
        for account in accounts:
            legacy = await asyncio.to_thread(read_legacy, self.redis, account)
            if legacy is None:
                actions.append(
                    Action(account_id=account, action="none", detail="no legacy state", done=False)
                )
                continue
            if await self.status_of(account) is not None:
                actions.append(
                    Action(account_id=account, action="none", detail="a workflow already exists", done=False)
                )
                continue
            since = legacy.initiated_at or datetime.now(UTC)
            note = f"Imported from legacy keys {', '.join(legacy.keys)} (legacy phase {legacy.phase})"
            state = await self._broker_owned_state(
                account, since, legacy.confirmation_number, list(legacy.transfers), note
            )
            detail = _start_detail(account, state, since)
            if dry_run:
                actions.append(Action(account_id=account, action="would import", detail=detail, done=False))
                continue
            await self._start(account, legacy.user_id, state)
            actions.append(Action(account_id=account, action="imported", detail=detail, done=True))
        return actions

    async def _start(self, account_id: str, user_id: str | None, state: ClosureState) -> None:
        await start_closure(
            self.client,
            account_id,
            task_queue=self.settings.temporal.task_queue,
            policy=self.settings.closure_policy(),
            user_id=user_id,
            state=state,
        )

    async def refusal(self, account_id: str, action: OperatorAction) -> str | None:
        """What the workflow's own validator would say to this action now; a dry run shows exactly that."""
        try:
            return await self.handle(account_id).query(
                AccountClosureWorkflow.operator_refusal, action, rpc_timeout=QUERY_TIMEOUT
            )
        except RPCError as exc:
            raise _unanswered(account_id, exc) from exc

    async def _allowed(self, account_id: str, action: OperatorAction) -> None:
        refusal = await self.refusal(account_id, action)
        if refusal:
            raise OperationRefused(refusal)

    async def retry(self, account_id: str, actor: Actor, dry_run: bool, note: str = "") -> Action:
        work = self._retry(account_id, actor.name, dry_run, note)
        return await audited(self.records, actor, "retry", account_id, note, dry_run, work)

    async def _retry(self, account_id: str, operator: str, dry_run: bool, note: str) -> Action:
        await self._allowed(account_id, OperatorAction.RETRY)
        if dry_run:
            progress = await self.progress(account_id)
            reason = progress.attention.reason if progress.attention else ""
            return Action(
                account_id=account_id,
                action="would retry",
                detail=f"parked because: {reason}",
                done=False,
                phase=progress.phase,
            )
        result = await self._update(
            account_id, AccountClosureWorkflow.retry, RetryRequest(operator=operator, note=note)
        )
        return Action(
            account_id=account_id,
            action="retried",
            detail=f"now {result.phase.value}: {result.message}",
            done=True,
            phase=result.phase,
        )

    async def cancel(self, account_id: str, actor: Actor, reason: str, dry_run: bool) -> Action:
        work = self._cancel(account_id, actor.name, reason, dry_run)
        return await audited(self.records, actor, "cancel", account_id, reason, dry_run, work)

    async def _cancel(self, account_id: str, operator: str, reason: str, dry_run: bool) -> Action:
        await self._allowed(account_id, OperatorAction.CANCEL)
        if dry_run:
            progress = await self.progress(account_id)
            return Action(
                account_id=account_id,
                action="would cancel",
                detail=f"now in {progress.phase.value}",
                done=False,
                phase=progress.phase,
            )
        result = await self._update(
            account_id, AccountClosureWorkflow.cancel, CancelRequest(requested_by=operator, reason=reason)
        )
        return Action(
            account_id=account_id, action="cancelled", detail=result.message, done=True, phase=result.phase
        )

    async def _update(self, account_id: str, update: Any, request: BaseModel) -> OperatorResult:
        """Run an operator update; the workflow's refusal (it may have changed since the check) is one line."""
        try:
            result: OperatorResult = await self.handle(account_id).execute_update(update, request)
        except WorkflowUpdateFailedError as exc:
            raise OperationRefused(getattr(exc.cause, "message", None) or str(exc.cause)) from exc
        except RPCError as exc:
            raise _unanswered(account_id, exc) from exc
        return result


def _unanswered(account_id: str, exc: RPCError) -> OperationRefused:
    if exc.status == RPCStatusCode.NOT_FOUND:
        return ClosureNotFound(f"no closure for account {account_id}")
    return ClosureUnreachable(f"closure {account_id} did not answer ({exc.status.name}): is a worker up?")


def _start_detail(account_id: str, state: ClosureState, since: datetime) -> str:
    owned = ", ".join(
        f"{format_usd(t.amount)} on {t.initiated_at:%Y-%m-%d %H:%M} UTC" for t in state.transfers
    )
    earlier = (
        f"owning {len(state.transfers)} earlier transfer(s): {owned}"
        if state.transfers
        else "no earlier transfers"
    )
    return (
        f"start {workflow_id_for(account_id)} reconciling from broker truth since {since:%Y-%m-%d %H:%M} UTC, "
        f"{earlier}; the next transfer waits for the 24 h window"
    )
