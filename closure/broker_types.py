"""What the broker activities take and return: the workflow's view of broker truth."""

from __future__ import annotations

from datetime import datetime, time
from decimal import Decimal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from closure.money import ZERO, Money
from closure.phases import TRANSFER_FAILED, TRANSFER_NEVER_SENT, TRANSFER_SUCCESS, TRANSFER_TERMINAL


class BrokerClock(BaseModel):
    now: AwareDatetime
    is_open: bool
    next_open: AwareDatetime
    next_close: AwareDatetime


class PositionView(BaseModel):
    symbol: str
    qty: Decimal


class AchRelationshipView(BaseModel):
    id: str
    status: str
    account_last4: str = Field(description="Only the last four digits ever leave the activity.")
    nickname: str | None = None


class AccountView(BaseModel):
    """One consistent look at an account, taken at the start of every step."""

    account_id: str
    status: str
    account_blocked: bool = False
    transfers_blocked: bool = False
    cash: Money = ZERO
    cash_withdrawable: Money = ZERO
    pending_transfer_out: Money = ZERO
    pending_transfer_in: Money = ZERO
    long_market_value: Money = ZERO
    positions: list[PositionView] = Field(default_factory=list)
    open_orders: int = 0
    approved_relationship: AchRelationshipView | None = None
    clock: BrokerClock

    @property
    def is_flat(self) -> bool:
        return not self.positions and self.open_orders == 0

    @property
    def unsettled_cash(self) -> Decimal:
        return max(self.cash - self.cash_withdrawable, ZERO)


class LiquidationOrders(BaseModel):
    orders_cancelled: int
    sell_orders: list[str] = Field(description="Symbols for which a closing order was placed.")
    refused: list[str] = Field(default_factory=list, description="Per-position refusals from the broker.")


class TransferView(BaseModel):
    id: str
    amount: Money
    status: str
    direction: str
    relationship_id: str | None = None
    created_at: AwareDatetime
    updated_at: AwareDatetime | None = None
    reason: str | None = None

    @property
    def is_terminal(self) -> bool:
        return self.status in TRANSFER_TERMINAL

    @property
    def failed(self) -> bool:
        return self.status in TRANSFER_FAILED

    @property
    def succeeded(self) -> bool:
        return self.status == TRANSFER_SUCCESS

    @property
    def uses_daily_limit(self) -> bool:
        return self.status not in TRANSFER_NEVER_SENT


class PlanWithdrawalInput(BaseModel):
    account_id: str
    daily_limit: Money
    tracked_transfer_ids: list[str] = Field(default_factory=list)
    known_transfer_ids: list[str] = Field(
        default_factory=list,
        description="Every outgoing transfer the closure accounts for; any other is reported as unknown.",
    )


class TransferPlan(BaseModel):
    """How much may go out now, given the broker's own transfer list."""

    model_config = ConfigDict(frozen=True)

    broker_now: AwareDatetime
    cash: Money
    cash_withdrawable: Money
    window_used: Money = Field(description="Outgoing dollars initiated in the last 24 h, by anyone.")
    limit_left: Money
    amount: Money = Field(description="min(withdrawable, limit left); zero means wait.")
    window_frees_at: AwareDatetime | None = Field(
        default=None, description="When the oldest transfer in the window ages out (broker clock)."
    )
    outgoing_before: list[str] = Field(
        description="Ids of every outgoing transfer that exists now; a later one is ours to adopt."
    )
    tracked: list[TransferView] = Field(default_factory=list, description="Current state of our transfers.")
    unknown: list[TransferView] = Field(
        default_factory=list,
        description="Outgoing transfers not in `known_transfer_ids`: no chunk owns them.",
    )


class CreateWithdrawalInput(BaseModel):
    account_id: str
    relationship_id: str
    amount: Money
    chunk_key: str
    outgoing_before: list[str]


class CreatedWithdrawal(BaseModel):
    chunk_key: str
    transfer: TransferView
    adopted: bool = Field(
        description="True when an earlier attempt had created it and its response was lost."
    )


class TrackTransfersInput(BaseModel):
    account_id: str
    transfer_ids: list[str]


class ReviewTransfersInput(BaseModel):
    account_id: str
    tracked_transfer_ids: list[str]
    known_transfer_ids: list[str] = Field(
        description="Every outgoing transfer the closure accounts for; any other is reported as unknown."
    )


class TransferReview(BaseModel):
    """One read of the broker's outgoing transfer list, against what the closure knows."""

    broker_now: AwareDatetime
    tracked: list[TransferView]
    unknown: list[TransferView]


class BusinessDeadlineInput(BaseModel):
    start: AwareDatetime
    business_days: int
    bank_days_too: bool = Field(
        default=False, description="Count only days the banks open as well (settlement needs both)."
    )
    at_new_york_time: time | None = Field(
        default=None, description="The deadline's New York time of day; None keeps the start's time of day."
    )


class AccountClosed(BaseModel):
    status: str
    closed_at: datetime
