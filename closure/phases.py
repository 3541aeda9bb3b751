"""The phases of a closure, and how they map to the legacy status names."""

from __future__ import annotations

from enum import StrEnum


class ClosurePhase(StrEnum):
    INITIATED = "initiated"
    LIQUIDATION = "liquidation"
    SETTLEMENT = "settlement"
    WITHDRAWAL = "withdrawal"
    WITHDRAWAL_24HR_WAIT = "withdrawal_24hr_wait"
    TRANSFER_COMPLETION = "transfer_completion"
    FINAL_CLOSURE = "final_closure"
    COMPLETED = "completed"
    NEEDS_ATTENTION = "needs_attention"
    CANCELLED = "cancelled"

    @property
    def is_terminal(self) -> bool:
        return self in (ClosurePhase.COMPLETED, ClosurePhase.CANCELLED)

    @property
    def legacy_status(self) -> str:
        """The legacy process state (INITIATED ... COMPLETED) shown by older dashboards."""
        return _LEGACY_STATUS[self]


_LEGACY_STATUS = {
    ClosurePhase.INITIATED: "INITIATED",
    ClosurePhase.LIQUIDATION: "LIQUIDATING",
    ClosurePhase.SETTLEMENT: "SETTLING",
    ClosurePhase.WITHDRAWAL: "WITHDRAWING",
    ClosurePhase.WITHDRAWAL_24HR_WAIT: "WITHDRAWING",
    ClosurePhase.TRANSFER_COMPLETION: "WITHDRAWING",
    ClosurePhase.FINAL_CLOSURE: "CLOSING",
    ClosurePhase.COMPLETED: "COMPLETED",
    ClosurePhase.NEEDS_ATTENTION: "NEEDS_ATTENTION",
    ClosurePhase.CANCELLED: "CANCELLED",
}

# Share of the progress bar reached when a phase starts; withdrawal fills its span by dollars sent.
PHASE_START_PERCENT = {
    ClosurePhase.INITIATED: 0,
    ClosurePhase.LIQUIDATION: 5,
    ClosurePhase.SETTLEMENT: 15,
    ClosurePhase.WITHDRAWAL: 25,
    ClosurePhase.WITHDRAWAL_24HR_WAIT: 25,
    ClosurePhase.TRANSFER_COMPLETION: 85,
    ClosurePhase.FINAL_CLOSURE: 95,
    ClosurePhase.COMPLETED: 100,
}
WITHDRAWAL_SPAN_PERCENT = 60

TRANSFER_SUCCESS = "COMPLETE"
TRANSFER_FAILED = frozenset({"REJECTED", "CANCELED", "RETURNED", "EXPIRED"})
TRANSFER_TERMINAL = TRANSFER_FAILED | {TRANSFER_SUCCESS}
# A transfer that never left the broker does not use the daily limit.
TRANSFER_NEVER_SENT = frozenset({"REJECTED", "CANCELED", "EXPIRED"})
