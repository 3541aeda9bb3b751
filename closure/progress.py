"""The closure's durable state, its public progress view, and the messages that steer it."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal

from pydantic import AwareDatetime, BaseModel, Field

from closure.broker_types import AchRelationshipView
from closure.money import ZERO, Money
from closure.phases import (
    PHASE_START_PERCENT,
    TRANSFER_FAILED,
    TRANSFER_SUCCESS,
    TRANSFER_TERMINAL,
    WITHDRAWAL_SPAN_PERCENT,
    ClosurePhase,
)
from closure.policy import ClosurePolicy


class TransferRecord(BaseModel):
    chunk: int = Field(description="1-based chunk number within this closure.")
    chunk_key: str
    transfer_id: str
    amount: Money
    status: str
    initiated_at: AwareDatetime = Field(description="The broker's created_at.")
    requested_at: AwareDatetime | None = Field(
        default=None, description="Workflow time the create call returned; the 24 h spacing counts from it."
    )
    updated_at: AwareDatetime | None = None
    adopted: bool = False
    reason: str | None = None
    acknowledged: bool = Field(default=False, description="An operator retried past this transfer's failure.")

    @property
    def failed(self) -> bool:
        return self.status in TRANSFER_FAILED

    @property
    def in_flight(self) -> bool:
        return self.status not in TRANSFER_TERMINAL


class PhaseChange(BaseModel):
    phase: ClosurePhase
    at: AwareDatetime = Field(description="Workflow time.")
    broker_at: AwareDatetime | None = Field(default=None, description="Broker clock at the last observation.")
    note: str = ""


class Attention(BaseModel):
    reason: str
    error_type: str
    resume_phase: ClosurePhase
    since: AwareDatetime
    auto_retry_at: AwareDatetime | None = Field(
        default=None, description="Set when the cause is transient: the closure retries on its own then."
    )


class OpsAlert(BaseModel):
    kind: str
    message: str
    at: AwareDatetime


class PendingChunk(BaseModel):
    """A chunk whose create call has started; until its outcome is known no other chunk may start."""

    chunk: int
    chunk_key: str
    amount: Money
    relationship_id: str
    outgoing_before: list[str]
    hold_until: AwareDatetime | None = Field(
        default=None,
        description="Set while a create's outcome is unknown: no new create for this chunk before then "
        "(workflow time), unless the transfer appears first and is adopted.",
    )


class ClosureState(BaseModel):
    """Everything the workflow knows; carried across continue-as-new and imported from legacy state."""

    phase: ClosurePhase = ClosurePhase.INITIATED
    confirmation_number: str = ""
    started_at: AwareDatetime | None = None
    step: str = "Closure requested"
    relationship: AchRelationshipView | None = None
    cash_at_start: Money | None = None
    last_cash: Money = ZERO
    last_withdrawable: Money = ZERO
    transfers: list[TransferRecord] = Field(default_factory=list)
    unowned: list[TransferRecord] = Field(
        default_factory=list,
        description="Outgoing transfers made during the closure that no chunk owns (a late create, a manual "
        "one); counted in what left the account and alerted.",
    )
    foreign_transfer_ids: list[str] | None = Field(
        default=None, description="Outgoing transfers that predate the closure's first look at the list."
    )
    pending_chunk: PendingChunk | None = None
    sell_orders_placed: bool = False
    next_action_at: AwareDatetime | None = None
    liquidation_open_seconds: float = Field(
        default=0.0, description="Open-market time spent selling since the last fill made progress."
    )
    liquidation_shares_left: Decimal | None = None
    settlement_alert_at: AwareDatetime | None = Field(default=None, description="Broker clock.")
    settlement_expected_at: AwareDatetime | None = Field(
        default=None,
        description="Broker clock: when T+n settlement should have made the proceeds withdrawable.",
    )
    settlement_alerted: bool = False
    history: list[PhaseChange] = Field(default_factory=list)
    attention: Attention | None = None
    alerts: list[OpsAlert] = Field(default_factory=list)
    completed_at: AwareDatetime | None = None
    cancel_reason: str | None = None
    initiation_notified: bool = False
    mirror_sequence: int = 0

    def next_chunk_at(self, spacing: timedelta) -> datetime | None:
        """Spacing counts from the last transfer that went out; a failed one frees its window at once."""
        sent = [t.requested_at or t.initiated_at for t in self.transfers if not t.failed]
        return max(sent) + spacing if sent else None

    @property
    def outgoing(self) -> list[TransferRecord]:
        """Everything that left (or is leaving) the account during the closure: its chunks and unowned ones."""
        return [*self.transfers, *self.unowned]

    def known_transfer_ids(self) -> list[str]:
        return [t.transfer_id for t in self.outgoing] + list(self.foreign_transfer_ids or [])

    @property
    def money_has_moved(self) -> bool:
        return self.pending_chunk is not None or any(not t.failed for t in self.outgoing)

    @property
    def amount_sent(self) -> Decimal:
        return sum((t.amount for t in self.outgoing if not t.failed), ZERO)

    @property
    def amount_completed(self) -> Decimal:
        return sum((t.amount for t in self.outgoing if t.status == TRANSFER_SUCCESS), ZERO)


class ClosureInput(BaseModel):
    account_id: str
    user_id: str | None = None
    confirmation_number: str | None = Field(
        default=None, description="Given by the starter; kept in the memo."
    )
    policy: ClosurePolicy = Field(default_factory=ClosurePolicy)
    state: ClosureState | None = Field(
        default=None, description="Set on continue-as-new and when importing a legacy closure."
    )


class BrokerClockAnchor(BaseModel):
    broker_at: AwareDatetime = Field(description="The broker's clock at the last look.")
    workflow_at: AwareDatetime = Field(description="Workflow time of that look.")
    rate: float = Field(default=1.0, description="Broker seconds per workflow second.")

    def on_broker_clock(self, moment: datetime) -> datetime:
        return self.broker_at + (moment - self.workflow_at) * self.rate


class ClosureProgress(BaseModel):
    """The one progress model: served by the query, mirrored to Redis, returned by the API."""

    account_id: str
    user_id: str | None = None
    workflow_id: str
    confirmation_number: str
    phase: ClosurePhase
    legacy_status: str
    step: str
    percent: int
    needs_attention: bool
    attention: Attention | None
    cash_at_start: Money | None
    amount_withdrawn: Money = Field(description="Sent and not failed.")
    amount_completed: Money = Field(description="Confirmed COMPLETE by the broker.")
    amount_remaining: Money = Field(description="Withdrawable cash still at the broker at the last look.")
    transfers: list[TransferRecord]
    unowned_transfers: list[TransferRecord] = Field(
        default_factory=list, description="Outgoing transfers no chunk owns; counted in the amounts above."
    )
    next_action_at: AwareDatetime | None
    started_at: AwareDatetime | None
    completed_at: AwareDatetime | None
    history: list[PhaseChange]
    alerts: list[OpsAlert]
    cancel_reason: str | None = None
    sequence: int = Field(default=0, description="Monotonic per closure; the mirror keeps the newest.")
    ach_relationship_id: str | None = None
    bank_last4: str | None = Field(
        default=None, description="The last four digits of the customer's bank account."
    )
    daily_transfer_limit: Money = Decimal("50000.00")
    mirrored_at: AwareDatetime | None = Field(
        default=None, description="Set by the Redis mirror when it stored this."
    )
    broker_clock: BrokerClockAnchor | None = Field(
        default=None,
        description="The last look at the broker's clock, to show workflow times on the broker's: the same "
        "in production; a simulated clock may run faster.",
    )

    @classmethod
    def of(
        cls,
        account_id: str,
        user_id: str | None,
        workflow_id: str,
        state: ClosureState,
        policy: ClosurePolicy,
        broker_clock: BrokerClockAnchor | None = None,
    ) -> ClosureProgress:
        return cls(
            broker_clock=broker_clock,
            account_id=account_id,
            user_id=user_id,
            workflow_id=workflow_id,
            confirmation_number=state.confirmation_number,
            phase=state.phase,
            legacy_status=state.phase.legacy_status,
            step=state.step,
            percent=percent_done(state),
            needs_attention=state.phase == ClosurePhase.NEEDS_ATTENTION,
            attention=state.attention,
            cash_at_start=state.cash_at_start,
            amount_withdrawn=state.amount_sent,
            amount_completed=state.amount_completed,
            amount_remaining=state.last_withdrawable,
            transfers=list(state.transfers),
            unowned_transfers=list(state.unowned),
            next_action_at=state.next_action_at,
            started_at=state.started_at,
            completed_at=state.completed_at,
            history=list(state.history),
            alerts=list(state.alerts),
            cancel_reason=state.cancel_reason,
            sequence=state.mirror_sequence,
            ach_relationship_id=state.relationship.id if state.relationship else None,
            bank_last4=state.relationship.account_last4 if state.relationship else None,
            daily_transfer_limit=policy.daily_transfer_limit,
        )


def percent_done(state: ClosureState) -> int:
    phase = state.attention.resume_phase if state.attention else state.phase
    if phase == ClosurePhase.CANCELLED:
        return 0
    start = PHASE_START_PERCENT.get(phase, 0)
    if phase in (ClosurePhase.WITHDRAWAL, ClosurePhase.WITHDRAWAL_24HR_WAIT):
        total = state.amount_sent + state.last_withdrawable
        if total > 0:
            start += int(WITHDRAWAL_SPAN_PERCENT * state.amount_sent / total)
    return min(start, 100)


class WakeSignal(BaseModel):
    reason: str = "external event"


class RetryRequest(BaseModel):
    operator: str
    note: str = ""


class CancelRequest(BaseModel):
    requested_by: str
    reason: str


class OperatorResult(BaseModel):
    accepted: bool
    phase: ClosurePhase
    message: str
