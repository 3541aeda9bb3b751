"""Operator routes: find closures, look at one and its audit trail (viewer), retry or cancel it (operator)."""

from __future__ import annotations

from collections.abc import Awaitable
from typing import Annotated

from fastapi import APIRouter, Path, Query
from temporalio.service import RPCError

from api.closures import temporal_unavailable
from api.deps import DeskDep, OperationsDep, Operator, Viewer
from api.errors import BROKER_READ, ApiError, Responses, problem
from api.models import (
    AuditTrailPublic,
    BrokerStatePublic,
    ClosureList,
    OperatorOutcome,
    OperatorRequest,
    ProgressPublic,
)
from closure.operators import AUTOMATION, Actor
from closure.phases import ClosurePhase
from ops.actions import Action, ClosureNotFound, ClosureUnreachable, OperationRefused
from workflows.client import closure_query, list_closures

router = APIRouter(
    prefix="/api/admin/closures",
    tags=["operators"],
    responses={
        429: problem("Too many requests"),
        400: problem("Malformed request"),
        422: problem("Invalid request"),
    },
)
AccountId = Path(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9-]+$")
REFUSALS: Responses = {
    401: problem("No, or an invalid, credential"),
    403: problem("Not an operator, or the role may not do this"),
}


@router.get("", response_model=ClosureList, responses=REFUSALS)
async def closures(
    _: Viewer,
    desk: DeskDep,
    phase: Annotated[ClosurePhase | None, Query(description="Only closures in this phase")] = None,
    needs_attention: Annotated[
        bool | None, Query(description="Only closures waiting for ops (or not)")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> ClosureList:
    try:
        found = await list_closures(
            await desk.connected(), closure_query(phase, needs_attention), limit=limit
        )
    except RPCError as exc:
        raise temporal_unavailable(exc) from exc
    return ClosureList(closures=found)


@router.get(
    "/{account_id}", response_model=ProgressPublic, responses={**REFUSALS, 404: problem("No closure")}
)
async def closure_detail(_: Viewer, desk: DeskDep, account_id: str = AccountId) -> ProgressPublic:
    found = await desk.progress(account_id)
    if found is None:
        raise ApiError(404, "ClosureNotFound", f"no closure for account {account_id}")
    return found


def _outcome(action: Action) -> OperatorOutcome:
    return OperatorOutcome(
        account_id=action.account_id,
        accepted=action.done,
        phase=action.phase,
        message=f"{action.action}: {action.detail}",
    )


async def _carry_out(work: Awaitable[Action]) -> OperatorOutcome:
    """The operations layer's answer; its refusals, the workflow's own, become a 409 with the reason."""
    try:
        return _outcome(await work)
    except ClosureNotFound as exc:
        raise ApiError(404, "ClosureNotFound", str(exc)) from exc
    except ClosureUnreachable as exc:
        raise temporal_unavailable(exc) from exc
    except OperationRefused as exc:
        raise ApiError(409, "OperatorActionRefused", str(exc)) from exc


@router.post(
    "/{account_id}/retry",
    response_model=OperatorOutcome,
    responses={**REFUSALS, 404: problem("No running closure"), 409: problem("Not waiting for an operator")},
)
async def retry(
    actor: Operator, ops: OperationsDep, request: OperatorRequest, account_id: str = AccountId
) -> OperatorOutcome:
    acting = _on_behalf(actor, request)
    return await _carry_out(ops.retry(account_id, acting, request.dry_run, note=request.reason))


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
    actor: Operator, ops: OperationsDep, request: OperatorRequest, account_id: str = AccountId
) -> OperatorOutcome:
    reason = request.reason or "cancelled by an operator"
    return await _carry_out(ops.cancel(account_id, _on_behalf(actor, request), reason, request.dry_run))


@router.get(
    "/{account_id}/broker",
    response_model=BrokerStatePublic,
    responses={
        **REFUSALS,
        404: problem("A path the API will not read (an encoded / or \\)"),
        **BROKER_READ,
    },
)
async def broker_state(_: Viewer, desk: DeskDep, account_id: str = AccountId) -> BrokerStatePublic:
    """The account as the broker has it now: status, cash, what is withdrawable, positions, the bank."""
    return BrokerStatePublic(account_id=account_id, view=await desk.broker_state(account_id))


@router.get(
    "/{account_id}/audit",
    response_model=AuditTrailPublic,
    responses={**REFUSALS, 404: problem("A path the API will not read (an encoded / or \\)")},
)
async def audit(_: Viewer, desk: DeskDep, account_id: str = AccountId) -> AuditTrailPublic:
    """Every operator action on the closure, through the API or the CLI: who, when, what, why, the outcome."""
    entries = await desk.audit_of(account_id)
    return AuditTrailPublic(account_id=account_id, entries=entries)


def _on_behalf(actor: Actor, request: OperatorRequest) -> Actor:
    """The automation token names the person or job it acts for; a person's own token already names them."""
    if actor.name != AUTOMATION or not request.operator:
        return actor
    return actor.model_copy(update={"name": f"{AUTOMATION} for {request.operator}"})
