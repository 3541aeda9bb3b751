"""How a closure's work stops: a halt for an operator, an accepted cancel, a fresh run for a long history."""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow
from temporalio.exceptions import ActivityError, ApplicationError, TimeoutError

with workflow.unsafe.imports_passed_through():
    from closure.errors import BrokerUnavailable, ClosureError, error_class


class ClosureHalted(Exception):
    """A business fact no retry can fix: the closure waits for an operator."""

    def __init__(
        self, error_type: str, reason: str, transient: bool = False, timed_out: bool = False
    ) -> None:
        super().__init__(reason)
        self.error_type = error_type
        self.reason = reason
        self.transient = transient
        self.timed_out = timed_out  # the activity never reported back: what it did is unknown
        self.retry_after: timedelta | None = None  # how long the broker asked us to wait (a 429)

    @classmethod
    def because(cls, error: ClosureError) -> ClosureHalted:
        """Halt on one of our typed errors, raised by the workflow's own reading of broker truth."""
        return cls(type(error).__name__, str(error), transient=error.retryable)

    def is_a(self, kind: type[ClosureError]) -> bool:
        """Whether the halting error is `kind` or one of its subclasses, matched by class, not by a literal."""
        found = error_class(self.error_type)
        return found is not None and issubclass(found, kind)


class ClosureCancelled(Exception):
    """An operator's cancel was accepted; raised at the next safe point."""


class ContinueAsNewRequested(Exception):
    """History is long; start a fresh run carrying the state, at a safe point."""


def halt_from(err: ActivityError, summary: str, budget: timedelta) -> ClosureHalted:
    cause = err.cause
    if isinstance(cause, ApplicationError):
        # The error says itself whether a later try can succeed: our typed errors set `non_retryable` from
        # their class (`ClosureError.retryable`), and anything else an activity raises is retryable.
        halted = ClosureHalted(
            cause.type or "ApplicationError", f"{summary}: {cause.message}", transient=not cause.non_retryable
        )
        halted.retry_after = cause.next_retry_delay
        return halted
    if isinstance(cause, TimeoutError):
        last_error = cause.cause if isinstance(cause.cause, ApplicationError) else None
        last = last_error.message if last_error else "no answer"
        return ClosureHalted(
            (last_error.type if last_error else None) or BrokerUnavailable.__name__,
            f"{summary}: still failing after {budget} ({last})",
            transient=True,
            timed_out=not isinstance(cause.cause, ApplicationError),
        )
    return ClosureHalted(type(cause).__name__, f"{summary}: {cause}", transient=True)
