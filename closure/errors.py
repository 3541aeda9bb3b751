"""Typed errors with stable names.

Activities raise these; the Temporal boundary turns them into `ApplicationError`s whose `type` is the class
name, so the workflow and operators can match on a name that never changes. A retryable error is an
infrastructure failure (Temporal retries it with backoff); any other is a business fact that no retry can
fix, and sends the closure to `needs_attention` with the message as the reason.
"""

from __future__ import annotations

from typing import ClassVar

from temporalio.exceptions import ApplicationError


class ClosureError(Exception):
    """Base of every error the service raises on purpose."""

    retryable: ClassVar[bool] = False

    def to_application_error(self) -> ApplicationError:
        return ApplicationError(str(self), type=type(self).__name__, non_retryable=not self.retryable)


# --- infrastructure: retried -------------------------------------------------------------------------------


class BrokerUnavailable(ClosureError):
    """The broker answered 429/5xx, timed out, or could not be reached.

    `processed_maybe` says whether the broker may have acted on the request all the same (a timeout or a 5xx
    after it was sent); False only when it certainly did not (no connection was made, or a 429).
    """

    retryable = True

    def __init__(self, message: str, *, processed_maybe: bool = True) -> None:
        super().__init__(message)
        self.processed_maybe = processed_maybe


class AccountNotClosedYet(ClosureError):
    """The close call was accepted but the broker does not yet report ACCOUNT_CLOSED."""

    retryable = True


# --- business: the closure waits for an operator -------------------------------------------------------------


class BrokerAuthFailed(ClosureError):
    """The broker refused our credentials (401/403 on a read)."""


class BrokerResponseInvalid(ClosureError):
    """The broker sent something the client cannot parse; retrying would read it again."""


class BrokerRequestRefused(ClosureError):
    """A 4xx the service did not expect; the broker's message is the reason."""


class AccountNotFound(ClosureError):
    pass


class AccountNotEligible(ClosureError):
    """The account is not ACTIVE, or is blocked from trading or transfers."""


class NoApprovedAchRelationship(ClosureError):
    pass


class WithdrawalRefused(ClosureError):
    """The broker refused to create an outgoing transfer (limit, funds, blocked)."""


class WithdrawalOutcomeUnknown(ClosureError):
    """A transfer create was sent and no answer came back (timeout, reset, 5xx): it may yet be processed.

    Not retried by Temporal: the workflow quarantines the chunk until the transfer appears or a hold passes.
    """


class AccountCloseRefused(ClosureError):
    """The broker refused to close the account (something remains on it)."""


class TransferFailed(ClosureError):
    """One of the closure's transfers ended REJECTED, RETURNED or CANCELED."""


class LiquidationStalled(ClosureError):
    """Positions or orders remain after the market was open for the liquidation timeout."""


class BrokerStateUnexpected(ClosureError):
    """Broker truth that the closure cannot act on safely (negative cash, unknown transfers, ...)."""


TRANSIENT_ERROR_TYPES = frozenset({BrokerUnavailable.__name__, AccountNotClosedYet.__name__, "TimeoutError"})
