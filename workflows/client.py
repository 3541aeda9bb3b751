"""The client side of the closure workflow: start (or find) an account's one closure, list and find closures."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from pydantic import BaseModel
from temporalio.client import Client, WorkflowHandle
from temporalio.common import (
    SearchAttributePair,
    TypedSearchAttributes,
    WorkflowIDConflictPolicy,
    WorkflowIDReusePolicy,
)

from closure.confirmation import new_confirmation_number, workflow_id_for
from closure.phases import ClosurePhase
from closure.policy import ClosurePolicy
from closure.progress import ClosureInput, ClosureProgress, ClosureState
from closure.search_attributes import ALPACA_ACCOUNT_ID, CLOSURE_NEEDS_ATTENTION, CLOSURE_PHASE
from workflows.account_closure import AccountClosureWorkflow

ALL_CLOSURES = f'WorkflowType = "{AccountClosureWorkflow.__name__}"'


@dataclass(frozen=True)
class StartedClosure:
    workflow_id: str
    run_id: str
    confirmation_number: str
    handle: WorkflowHandle[AccountClosureWorkflow, ClosureProgress]


async def start_closure(
    client: Client,
    account_id: str,
    *,
    task_queue: str,
    policy: ClosurePolicy,
    user_id: str | None = None,
    state: ClosureState | None = None,
) -> StartedClosure:
    """A second call while the closure runs returns the same closure and confirmation number.

    `state` starts from what an earlier system knew (a legacy import, a resumed closure); the workflow
    reconciles it with broker truth before doing anything.
    """
    number = (
        state.confirmation_number if state and state.confirmation_number else None
    ) or new_confirmation_number()
    handle = await client.start_workflow(
        AccountClosureWorkflow.run,
        ClosureInput(
            account_id=account_id, user_id=user_id, policy=policy, state=state, confirmation_number=number
        ),
        id=workflow_id_for(account_id),
        task_queue=task_queue,
        id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
        # A cancelled closure may be started again later; a completed one is refused by the broker checks.
        id_reuse_policy=WorkflowIDReusePolicy.ALLOW_DUPLICATE,
        memo={"confirmation_number": number},
        search_attributes=TypedSearchAttributes(
            [
                SearchAttributePair(ALPACA_ACCOUNT_ID, account_id),
                SearchAttributePair(CLOSURE_PHASE, (state.phase if state else ClosurePhase.INITIATED).value),
                SearchAttributePair(CLOSURE_NEEDS_ATTENTION, False),
            ]
        ),
    )
    # With USE_EXISTING the closure may be one started earlier: its number is in its memo.
    memo = await (await handle.describe()).memo()
    return StartedClosure(
        workflow_id=handle.id,
        run_id=handle.result_run_id or handle.first_execution_run_id or "",
        confirmation_number=str(memo.get("confirmation_number", number)),
        handle=handle,
    )


class ClosureSummary(BaseModel):
    workflow_id: str
    run_id: str | None
    account_id: str | None
    phase: ClosurePhase | None
    needs_attention: bool
    status: str
    started_at: datetime | None
    closed_at: datetime | None


def closure_query(phase: ClosurePhase | None = None, needs_attention: bool | None = None) -> str:
    query = ALL_CLOSURES
    if phase is not None:
        query += f' AND ClosurePhase = "{phase.value}"'
    if needs_attention is not None:
        query += f" AND ClosureNeedsAttention = {str(needs_attention).lower()}"
    return query


async def list_closures(client: Client, query: str, limit: int = 1000) -> list[ClosureSummary]:
    found = []
    async for execution in client.list_workflows(query, limit=limit):
        attributes = execution.typed_search_attributes
        raw_phase = attributes.get(CLOSURE_PHASE)
        found.append(
            ClosureSummary(
                workflow_id=execution.id,
                run_id=execution.run_id,
                account_id=attributes.get(ALPACA_ACCOUNT_ID),
                phase=ClosurePhase(raw_phase) if raw_phase in set(ClosurePhase) else None,
                needs_attention=bool(attributes.get(CLOSURE_NEEDS_ATTENTION)),
                status=execution.status.name if execution.status else "UNKNOWN",
                started_at=execution.start_time,
                closed_at=execution.close_time,
            )
        )
    return found
