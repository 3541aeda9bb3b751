"""What an operator command answers: the action taken (or that would be), or a one-line refusal."""

from __future__ import annotations

from collections.abc import Awaitable
from typing import TypeVar

from pydantic import BaseModel
from temporalio.service import RPCError, RPCStatusCode

from closure.phases import ClosurePhase

T = TypeVar("T")


class Action(BaseModel):
    account_id: str
    action: str
    detail: str
    done: bool
    phase: ClosurePhase | None = None


class OperationRefused(Exception):
    """An operator command that cannot be carried out, with the reason (one line, for the operator)."""


async def refused_when_missing(work: Awaitable[T], reason: str) -> T:
    """Temporal's NOT_FOUND for a schedule or a deployment, as the operator's one-line reason."""
    try:
        return await work
    except RPCError as exc:
        if exc.status == RPCStatusCode.NOT_FOUND:
            raise OperationRefused(reason) from None
        raise


class ClosureNotFound(OperationRefused):
    """No closure (or no running one) for the account."""


class ClosureUnreachable(OperationRefused):
    """Temporal, or every worker that could answer for the closure, is out of reach."""
