"""Whether an account can be closed, from the broker's view of it: one rule for the API and the workflow.

The API refuses an initiation with the rule's answer; the workflow checks again before anything moves (the
account may have changed since) and parks with the same answer.
"""

from __future__ import annotations

from enum import StrEnum

from closure.broker_types import AccountView
from closure.errors import (
    AccountAlreadyClosed,
    AccountBlocked,
    AccountIneligible,
    AccountNotActive,
    NoApprovedAchRelationship,
)
from closure.money import format_usd


class AccountStatus(StrEnum):
    """The broker's account statuses (Alpaca `AccountStatus`); a status it adds later still reads as text."""

    ONBOARDING = "ONBOARDING"
    SUBMITTED = "SUBMITTED"
    RESUBMITTED = "RESUBMITTED"
    SUBMISSION_FAILED = "SUBMISSION_FAILED"
    ACTION_REQUIRED = "ACTION_REQUIRED"
    EDITED = "EDITED"
    ACCOUNT_UPDATED = "ACCOUNT_UPDATED"
    APPROVAL_PENDING = "APPROVAL_PENDING"
    REAPPROVAL_PENDING = "REAPPROVAL_PENDING"
    SIGNED_UP = "SIGNED_UP"
    KYC_SUBMITTED = "KYC_SUBMITTED"
    LIMITED = "LIMITED"
    AML_REVIEW = "AML_REVIEW"
    APPROVED = "APPROVED"
    REJECTED = "REJECTED"
    ACTIVE = "ACTIVE"
    DISABLED = "DISABLED"
    DISABLE_PENDING = "DISABLE_PENDING"
    ACCOUNT_CLOSED = "ACCOUNT_CLOSED"
    PAPER_ONLY = "PAPER_ONLY"
    INACTIVE = "INACTIVE"


def is_closed(view: AccountView) -> bool:
    return view.status == AccountStatus.ACCOUNT_CLOSED


def ineligibility(view: AccountView) -> AccountIneligible | None:
    """Why this account cannot start closing, or None when it can."""
    if is_closed(view):
        return AccountAlreadyClosed("the broker reports the account as already closed")
    if view.status != AccountStatus.ACTIVE:
        return AccountNotActive(f"the broker reports the account as {view.status}, not ACTIVE")
    if view.account_blocked or view.transfers_blocked:
        return AccountBlocked("the account is blocked from transfers at the broker")
    if (view.cash > 0 or view.positions) and view.approved_relationship is None:
        return NoApprovedAchRelationship(
            f"the account holds {format_usd(view.cash)} in cash and {len(view.positions)} position(s) but has "
            "no APPROVED ACH relationship to send the money to; nothing was sold or moved"
        )
    return None
