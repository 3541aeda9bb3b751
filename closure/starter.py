"""Start (or find) the one closure of an account, idempotently."""

from __future__ import annotations

from dataclasses import dataclass

from temporalio.client import Client, WorkflowHandle
from temporalio.common import (
    SearchAttributePair,
    TypedSearchAttributes,
    WorkflowIDConflictPolicy,
    WorkflowIDReusePolicy,
)

from closure.confirmation import confirmation_number, workflow_id_for
from closure.phases import ClosurePhase
from closure.policy import ClosurePolicy
from closure.progress import ClosureInput, ClosureProgress
from closure.search_attributes import ALPACA_ACCOUNT_ID, CLOSURE_NEEDS_ATTENTION, CLOSURE_PHASE
from workflows.account_closure import AccountClosureWorkflow


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
) -> StartedClosure:
    """A second call while the closure runs returns the same closure and confirmation number."""
    handle = await client.start_workflow(
        AccountClosureWorkflow.run,
        ClosureInput(account_id=account_id, user_id=user_id, policy=policy),
        id=workflow_id_for(account_id),
        task_queue=task_queue,
        id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
        # A cancelled closure may be started again later; a completed one is refused by the broker checks.
        id_reuse_policy=WorkflowIDReusePolicy.ALLOW_DUPLICATE,
        search_attributes=TypedSearchAttributes(
            [
                SearchAttributePair(ALPACA_ACCOUNT_ID, account_id),
                SearchAttributePair(CLOSURE_PHASE, ClosurePhase.INITIATED.value),
                SearchAttributePair(CLOSURE_NEEDS_ATTENTION, False),
            ]
        ),
    )
    first_run_id = handle.first_execution_run_id or handle.result_run_id or ""
    description = await handle.describe()
    # After a continue-as-new the start call answers with the current run; the number belongs to the first.
    first_run_id = description.raw_description.workflow_execution_info.first_run_id or first_run_id
    return StartedClosure(
        workflow_id=handle.id,
        run_id=handle.result_run_id or first_run_id,
        confirmation_number=confirmation_number(first_run_id),
        handle=handle,
    )
