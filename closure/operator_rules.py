"""When an operator's retry or cancel is refused: one rule, judged by the workflow itself.

The workflow's update validators apply it, and so does its `operator_refusal` query, which is what a dry run
asks: a dry run and the real action read the same state through the same function and cannot disagree.
"""

from __future__ import annotations

from enum import StrEnum

from closure.money import format_usd
from closure.phases import ClosurePhase
from closure.progress import ClosureState


class OperatorAction(StrEnum):
    RETRY = "retry"
    CANCEL = "cancel"


def retry_refusal(state: ClosureState, retry_in_progress: bool) -> str | None:
    if state.phase != ClosurePhase.NEEDS_ATTENTION or retry_in_progress:
        return f"the closure is in {state.phase.value}, not waiting for an operator"
    return None


def cancel_refusal(state: ClosureState) -> str | None:
    if state.phase.is_terminal:
        return f"the closure is already {state.phase.value}"
    if state.amount_sent > 0:
        return (
            f"{format_usd(state.amount_sent)} has already been sent to the bank; a closure cannot be "
            "cancelled once money has moved (retry it instead)"
        )
    if state.pending_chunk is not None:
        pending = state.pending_chunk
        return (
            f"transfer {pending.chunk} of {format_usd(pending.amount)} is being sent to the bank; a closure "
            "cannot be cancelled once money has moved (retry it instead)"
        )
    return None
