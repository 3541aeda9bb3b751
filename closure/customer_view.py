"""What the customer's status page shows, in the customer's words: where the money is and what happens next.

The page renders this and computes nothing, so what a step, a transfer status or a pause means to a customer,
and when the money should be at their bank (the banking calendar), is decided here once.
"""

from __future__ import annotations

import math
from datetime import date, datetime, timedelta
from enum import StrEnum
from typing import Literal

from pydantic import AwareDatetime, BaseModel, Field

from closure.bank_calendar import expected_at_bank
from closure.money import ZERO, Money, format_usd
from closure.phases import TRANSFER_FAILED, TRANSFER_SUCCESS, ClosurePhase
from closure.progress import ClosureProgress, TransferRecord

STEPS = (
    ("selling", "Selling"),
    ("settling", "Settling"),
    ("sending", "Sending to your bank"),
    ("closing", "Closing"),
    ("closed", "Closed"),
)
_STEP_OF = {
    ClosurePhase.INITIATED: 0,
    ClosurePhase.LIQUIDATION: 0,
    ClosurePhase.SETTLEMENT: 1,
    ClosurePhase.WITHDRAWAL: 2,
    ClosurePhase.WITHDRAWAL_24HR_WAIT: 2,
    ClosurePhase.TRANSFER_COMPLETION: 2,
    ClosurePhase.FINAL_CLOSURE: 3,
    ClosurePhase.COMPLETED: 4,
}
_TRANSFER_WORDS = {
    "QUEUED": "Requested: being prepared for your bank",
    "APPROVAL_PENDING": "Requested: being checked before it is sent",
    "PENDING": "Requested: being prepared for your bank",
    "APPROVED": "Approved: on its way to your bank",
    "SENT_TO_CLEARING": "On its way to your bank",
    TRANSFER_SUCCESS: "Sent: the money has left for your bank",
    "REJECTED": "Not sent: refused before it left; the money is still in your account",
    "CANCELED": "Not sent: cancelled before it left; the money is still in your account",
    "EXPIRED": "Not sent: it expired before it left; the money is still in your account",
    "RETURNED": "Returned by your bank: the money is back in your account",
}
_ACH_REASONS = {
    "R01": "the bank reported insufficient funds",
    "R02": "the bank account is closed",
    "R03": "the bank could not find the account",
    "R04": "the account number is not valid at the bank",
    "R16": "the bank account is frozen",
    "R20": "the bank account does not accept this kind of transfer",
    "R29": "the bank says the transfer was not authorised",
}
_PAUSE_WORDS = {
    "TransferFailed": "A transfer to your bank did not go through.",
    "WithdrawalRefused": "A transfer to your bank was refused before it was sent.",
    "NoApprovedAchRelationship": "Your linked bank account is no longer approved for transfers.",
    "AccountBlocked": "Your account has a hold on it that a person has to clear.",
    "LiquidationStalled": "Some of your positions could not be sold yet.",
}


class StepState(StrEnum):
    DONE = "done"
    CURRENT = "current"
    UPCOMING = "upcoming"


class CustomerStep(BaseModel):
    key: str
    label: str
    state: StepState


class CustomerTransfer(BaseModel):
    chunk: int
    amount: Money
    status: str = Field(description="The broker's status.")
    status_words: str
    tone: Literal["moving", "sent", "failed"]
    sent_at: AwareDatetime
    expected_by: date | None = Field(description="The bank day it should be at the bank by, while moving.")
    problem: str | None = Field(description="Why it failed, in words, when the bank gave a reason.")
    reference: str = Field(description="The transfer's id: what the bank or support can trace it by.")


class NextAction(BaseModel):
    what: str
    at: AwareDatetime | None


class CustomerHelp(BaseModel):
    explanation: str
    what_you_can_do: str


class CustomerStatus(BaseModel):
    account_id: str
    confirmation_number: str
    state: Literal["in_progress", "paused", "closed", "cancelled"]
    headline: str
    steps: list[CustomerStep]
    total: Money | None = Field(description="What is being sent in all, once the sales have settled.")
    sent: Money
    arrived: Money = Field(description="Sent and confirmed complete by the broker.")
    percent_sent: int
    bank_last4: str | None
    daily_limit: Money
    transfers: list[CustomerTransfer]
    next_action: NextAction | None
    expected_done_by: date | None = Field(description="When every dollar should be at the bank.")
    help: CustomerHelp | None
    sequence: int
    completed_at: AwareDatetime | None


def customer_status(progress: ClosureProgress, now: datetime) -> CustomerStatus:
    """Every moment on the broker's clock (the same as the workflow's in production), as the transfers are."""
    progress = _on_broker_clock(progress)
    if progress.broker_clock is not None:
        now = progress.broker_clock.on_broker_clock(now)
    phase = _effective_phase(progress)
    total = _total(progress, phase)
    sent = progress.amount_withdrawn
    return CustomerStatus(
        account_id=progress.account_id,
        confirmation_number=progress.confirmation_number,
        state=_state(progress.phase),
        headline=_headline(progress, phase),
        steps=_steps(progress.phase, phase),
        total=total,
        sent=sent,
        arrived=progress.amount_completed,
        percent_sent=min(100, int(100 * sent / total)) if total else 0,
        bank_last4=progress.bank_last4,
        daily_limit=progress.daily_transfer_limit,
        transfers=[_transfer(t) for t in [*progress.transfers, *progress.unowned_transfers]],
        next_action=_next_action(progress, phase),
        expected_done_by=_expected_done_by(progress, phase, now),
        help=_help(progress),
        sequence=progress.sequence,
        completed_at=progress.completed_at,
    )


def _on_broker_clock(progress: ClosureProgress) -> ClosureProgress:
    anchor = progress.broker_clock
    if anchor is None:
        return progress
    moved: dict[str, object] = {}
    for name in ("next_action_at", "completed_at"):
        moment = getattr(progress, name)
        if moment is not None:
            moved[name] = anchor.on_broker_clock(moment)
    if progress.attention is not None and progress.attention.auto_retry_at is not None:
        retry_at = anchor.on_broker_clock(progress.attention.auto_retry_at)
        moved["attention"] = progress.attention.model_copy(update={"auto_retry_at": retry_at})
    return progress.model_copy(update=moved)


def _effective_phase(progress: ClosureProgress) -> ClosurePhase:
    """Where the closure is on its way: a paused one is where it paused, a cancelled one where it stopped."""
    if progress.attention is not None:
        return progress.attention.resume_phase
    if progress.phase == ClosurePhase.CANCELLED:
        before = [c.phase for c in progress.history if c.phase in _STEP_OF]
        return before[-1] if before else ClosurePhase.INITIATED
    return progress.phase


def _state(phase: ClosurePhase) -> Literal["in_progress", "paused", "closed", "cancelled"]:
    if phase == ClosurePhase.COMPLETED:
        return "closed"
    if phase == ClosurePhase.CANCELLED:
        return "cancelled"
    return "paused" if phase == ClosurePhase.NEEDS_ATTENTION else "in_progress"


def _steps(actual: ClosurePhase, phase: ClosurePhase) -> list[CustomerStep]:
    current = _STEP_OF.get(phase, 0)
    steps = []
    for index, (key, label) in enumerate(STEPS):
        if index < current or actual == ClosurePhase.COMPLETED:
            state = StepState.DONE
        elif index == current and actual != ClosurePhase.CANCELLED:
            state = StepState.CURRENT
        else:
            state = StepState.UPCOMING
        steps.append(CustomerStep(key=key, label=label, state=state))
    return steps


def _total(progress: ClosureProgress, phase: ClosurePhase) -> Money | None:
    """Known once the money is withdrawable: what has gone plus what is left to send."""
    total = progress.amount_withdrawn + progress.amount_remaining
    if _STEP_OF.get(phase, 0) < 2 and progress.amount_withdrawn == ZERO:
        return None
    return total


def _transfer(record: TransferRecord) -> CustomerTransfer:
    failed = record.status in TRANSFER_FAILED
    return CustomerTransfer(
        chunk=record.chunk,
        amount=record.amount,
        status=record.status,
        status_words=_TRANSFER_WORDS.get(record.status, "Being processed"),
        tone="failed" if failed else "sent" if record.status == TRANSFER_SUCCESS else "moving",
        sent_at=record.initiated_at,
        expected_by=None if failed else expected_at_bank(record.initiated_at),
        problem=_reason_words(record.reason) if failed else None,
        reference=record.transfer_id,
    )


def _reason_words(reason: str | None) -> str | None:
    if not reason:
        return None
    code = reason.strip()[:3].upper()
    return _ACH_REASONS.get(code, f"the reason given: {reason}")


def _headline(progress: ClosureProgress, phase: ClosurePhase) -> str:
    bank = f"your bank account ending {progress.bank_last4}" if progress.bank_last4 else "your bank"
    if progress.phase == ClosurePhase.COMPLETED:
        return f"Your account is closed. {format_usd(progress.amount_withdrawn)} was sent to {bank}."
    if progress.phase == ClosurePhase.CANCELLED:
        return "This closure was cancelled. Your account stays open."
    if progress.phase == ClosurePhase.NEEDS_ATTENTION:
        return "Your closure is paused while our operations team takes a look."
    return {
        0: "We are selling your positions.",
        1: "Your sales are settling.",
        2: f"We are sending your money to {bank}.",
        3: "We are closing your account.",
    }.get(_STEP_OF.get(phase, 0), "We are closing your account.")


def _next_action(progress: ClosureProgress, phase: ClosurePhase) -> NextAction | None:
    at = progress.next_action_at
    if progress.phase.is_terminal:
        return None
    if progress.attention is not None:
        if progress.attention.auto_retry_at is not None:
            return NextAction(what="We try again on our own", at=progress.attention.auto_retry_at)
        return NextAction(what="Our operations team resumes your closure", at=None)
    limit = format_usd(progress.daily_transfer_limit)
    what = {
        ClosurePhase.INITIATED: "We check your account",
        ClosurePhase.LIQUIDATION: "We check on your sell orders",
        ClosurePhase.SETTLEMENT: "Your sales settle and the first transfer goes out",
        ClosurePhase.WITHDRAWAL: "We send the next transfer",
        ClosurePhase.WITHDRAWAL_24HR_WAIT: f"We send the next transfer of up to {limit}",
        ClosurePhase.TRANSFER_COMPLETION: "We check that your bank has the last transfer",
        ClosurePhase.FINAL_CLOSURE: "We close your account",
    }[phase]
    return NextAction(what=what, at=at)


def _expected_done_by(progress: ClosureProgress, phase: ClosurePhase, now: datetime) -> date | None:
    """Refreshed at every change: the remaining chunks one spacing apart from the next send, each landing
    by its latest bank day; before the sales settle the amount is not known yet."""
    if progress.phase == ClosurePhase.COMPLETED and progress.completed_at is not None:
        return progress.completed_at.date()
    if progress.phase == ClosurePhase.CANCELLED or _STEP_OF.get(phase, 0) < 2:
        return None
    landings = [expected_at_bank(t.initiated_at) for t in progress.transfers if t.in_flight]
    left = progress.amount_remaining
    if left > ZERO:
        chunks = math.ceil(left / progress.daily_transfer_limit)
        first = max(progress.next_action_at or now, now)
        landings.append(expected_at_bank(first + timedelta(days=chunks - 1)))
    return max(landings) if landings else now.date()


def _help(progress: ClosureProgress) -> CustomerHelp | None:
    if progress.attention is None:
        return None
    cause = _PAUSE_WORDS.get(
        progress.attention.error_type, "Something unexpected needs a person to look at it."
    )
    return CustomerHelp(
        explanation=f"{cause} No new transfer starts until it is resolved; any transfer already on its way "
        "carries on, and your money is safe.",
        what_you_can_do=f"Contact support and quote your confirmation number {progress.confirmation_number}. "
        "If your bank details changed, tell them.",
    )
