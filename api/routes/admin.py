"""Operator routes: find closures, look at one, retry it, cancel it. Behind the admin token."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query
from temporalio.client import WorkflowUpdateFailedError
from temporalio.service import RPCError, RPCStatusCode

from api.closures import temporal_unavailable
from api.deps import DeskDep, Operator
from api.errors import ApiError, Responses, problem
from api.models import ClosureList, OperatorAction, OperatorOutcome, ProgressPublic
from closure.phases import ClosurePhase
from closure.progress import CancelRequest, RetryRequest
from ops.operations import closure_query, list_closures
from workflows.account_closure import AccountClosureWorkflow

router = APIRouter(
    prefix="/api/admin/closures",
    tags=["operators"],
    responses={400: problem("Malformed request"), 422: problem("Invalid request")},
)
AccountId = Path(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9-]+$")
REFUSALS: Responses = {401: problem("Not an operator credential"), 403: problem("Operator endpoints are off")}


@router.get("", response_model=ClosureList, responses=REFUSALS)
async def closures(
    _: Operator,
    desk: DeskDep,
    phase: Annotated[ClosurePhase | None, Query(description="Only closures in this phase")] = None,
    needs_attention: Annotated[
        bool | None, Query(description="Only closures waiting for ops (or not)")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> ClosureList:
    try:
        found = await list_closures(await desk.temporal(), closure_query(phase, needs_attention), limit=limit)
    except RPCError as exc:
        raise temporal_unavailable(exc) from exc
    return ClosureList(closures=found)


@router.get(
    "/{account_id}", response_model=ProgressPublic, responses={**REFUSALS, 404: problem("No closure")}
)
async def closure_detail(_: Operator, desk: DeskDep, account_id: str = AccountId) -> ProgressPublic:
    found = await desk.progress(account_id)
    if found is None:
        raise ApiError(404, "ClosureNotFound", f"no closure for account {account_id}")
    return found


async def _update(desk: DeskDep, account_id: str, update: object, argument: object) -> OperatorOutcome:
    handle = await desk.handle(account_id)
    try:
        result = await handle.execute_update(update, argument)  # type: ignore[call-overload]
    except WorkflowUpdateFailedError as exc:
        reason = getattr(exc.cause, "message", None) or str(exc.cause)
        raise ApiError(409, "OperatorActionRefused", reason) from exc
    except RPCError as exc:
        if exc.status == RPCStatusCode.NOT_FOUND:
            raise ApiError(404, "ClosureNotFound", f"no running closure for account {account_id}") from exc
        raise temporal_unavailable(exc) from exc
    return OperatorOutcome(
        account_id=account_id, accepted=result.accepted, phase=result.phase, message=result.message
    )


@router.post(
    "/{account_id}/retry",
    response_model=OperatorOutcome,
    responses={**REFUSALS, 404: problem("No running closure"), 409: problem("Not waiting for an operator")},
)
async def retry(
    _: Operator, desk: DeskDep, action: OperatorAction, account_id: str = AccountId
) -> OperatorOutcome:
    return await _update(
        desk,
        account_id,
        AccountClosureWorkflow.retry,
        RetryRequest(operator=action.operator, note=action.reason),
    )


@router.post(
    "/{account_id}/cancel",
    response_model=OperatorOutcome,
    responses={
        **REFUSALS,
        404: problem("No running closure"),
        409: problem("Refused: money has moved, or closed"),
    },
)
async def cancel(
    _: Operator, desk: DeskDep, action: OperatorAction, account_id: str = AccountId
) -> OperatorOutcome:
    request = CancelRequest(requested_by=action.operator, reason=action.reason or "cancelled by an operator")
    return await _update(desk, account_id, AccountClosureWorkflow.cancel, request)
