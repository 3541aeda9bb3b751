"""Typed errors with stable names.

Activities raise these; the Temporal boundary turns them into `ApplicationError`s whose `type` is the class
name, so the workflow and operators can match on a name that never changes. A retryable error is an
infrastructure failure (Temporal retries it with backoff); any other is a business fact that no retry can
fix, and sends the closure to `needs_attention` with the message as the reason.
"""

from __future__ import annotations

from datetime import timedelta
from typing import ClassVar

from temporalio.exceptions import ApplicationError


class ClosureError(Exception):
    """Base of every error the service raises on purpose."""

    retryable: ClassVar[bool] = False

    def to_application_error(self) -> ApplicationError:
        return ApplicationError(str(self), type=type(self).__name__, non_retryable=not self.retryable)


def error_class(name: str) -> type[ClosureError] | None:
    """The error class behind a stable name (an `ApplicationError.type`), wherever it is defined."""
    pending: list[type[ClosureError]] = [ClosureError]
    while pending:
        kind = pending.pop()
        if kind.__name__ == name:
            return kind
        pending.extend(kind.__subclasses__())
    return None


# --- infrastructure: retried -------------------------------------------------------------------------------


class BrokerUnavailable(ClosureError):
    """The broker answered 429/5xx, timed out, or could not be reached.

    `processed_maybe` says whether the broker may have acted on the request all the same (a timeout or a 5xx
    after it was sent); False only when it certainly did not (no connection was made, or a 429).
    """

    retryable = True

    def __init__(
        self, message: str, *, processed_maybe: bool = True, retry_after: timedelta | None = None
    ) -> None:
        super().__init__(message)
        self.processed_maybe = processed_maybe
        self.retry_after = retry_after  # the broker said when to come back (a 429's Retry-After)

    def to_application_error(self) -> ApplicationError:
        # Temporal waits what the broker asked instead of its own backoff, so a 429 storm is not fed.
        return ApplicationError(str(self), type=type(self).__name__, next_retry_delay=self.retry_after)


class BrokerStreamInterrupted(ClosureError):
    """An event stream ended, went silent past its heartbeat, dropped messages or refused the connection:
    reconnect from the cursor. `lost` says the broker told us it dropped events (a slow reader)."""

    retryable = True

    def __init__(self, message: str, *, lost: bool = False) -> None:
        super().__init__(message)
        self.lost = lost


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


class AccountIneligible(ClosureError):
    """The account cannot start closing as it stands at the broker (`closure.eligibility`)."""


class AccountAlreadyClosed(AccountIneligible):
    """The broker already reports ACCOUNT_CLOSED."""


class AccountNotActive(AccountIneligible):
    """The broker reports a status other than ACTIVE."""


class AccountBlocked(AccountIneligible):
    """The account is blocked from trading or transfers at the broker."""


class NoApprovedAchRelationship(AccountIneligible):
    """Money or positions remain but no APPROVED bank account (ACH relationship) can receive the money."""


class WithdrawalRefused(ClosureError):
    """The broker refused to create an outgoing transfer (limit, funds, blocked)."""


class WithdrawalOutcomeUnknown(ClosureError):
    """A transfer create was sent and no answer came back (timeout, reset, 5xx): it may yet be processed.

    Not retried by Temporal: the workflow quarantines the chunk until the transfer appears or a hold passes.
    """


class AccountNotEmpty(ClosureError):
    """Something reached the account after the final checks; the close was not sent (the broker would take it)."""


class AccountCloseRefused(ClosureError):
    """The broker refused to close the account (something remains on it)."""


class TransferFailed(ClosureError):
    """One of the closure's transfers ended REJECTED, RETURNED or CANCELED."""


class LiquidationStalled(ClosureError):
    """Positions or orders remain after the market was open for the liquidation timeout."""


class BrokerStateUnexpected(ClosureError):
    """Broker truth that the closure cannot act on safely (negative cash, unknown transfers, ...)."""


# --- user records, email, the mirror: raised by their adapters --------------------------------------------


class UserRecordNotFound(ClosureError):
    """No user_onboarding row carries this Alpaca account id."""


class UserRecordConflict(ClosureError):
    """The record is in a status the requested move cannot start from (e.g. closing an active account)."""


class UserRecordsUnavailable(ClosureError):
    """The database could not be reached; retried."""

    retryable = True


class MirrorUnavailable(ClosureError):
    retryable = True


class EmailUndelivered(ClosureError):
    """The provider certainly did not take the email (unreachable, throttled, 5xx); retried."""

    retryable = True


class EmailOutcomeUnknown(ClosureError):
    """The provider may have taken the email; a retry will not send it again."""

    retryable = True


class EmailRejected(ClosureError):
    """The provider refused the email for good (unverified sender, bad address, sending paused)."""


class RecipientUnknown(ClosureError):
    """No email address on file for the account's user."""
