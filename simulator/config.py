"""The simulated broker's knobs: every default follows the real broker (see docs/simulator.md)."""

from __future__ import annotations

from datetime import time
from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class SimConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")  # a misspelt knob must be refused, not ignored

    daily_outgoing_limit: Decimal = Field(default=Decimal("50000.00"), gt=0)
    close_with_residual: Literal["accept", "refuse"] = Field(
        default="accept",
        description=(
            "Alpaca documents only 204 and 404 for a close and leaves emptying the account to the caller: it "
            "accepts a close with money left, recorded here as a closed_with_residual ledger entry. refuse "
            "answers 422 instead, as a stricter broker would."
        ),
    )
    transfer_queued_seconds: float = Field(default=900, ge=0, description="QUEUED -> SENT_TO_CLEARING")
    transfer_clearing_seconds: float = Field(default=7200, ge=0, description="SENT_TO_CLEARING -> COMPLETE")
    transfer_walk: Literal["full", "settled", "short"] = Field(
        default="full",
        description=(
            "full: QUEUED, APPROVAL_PENDING, PENDING (a third of the queued time each), SENT_TO_CLEARING, "
            "APPROVED (the last twelfth of clearing), COMPLETE, as the Broker API's status set has it. "
            "settled: the same with SETTLED before COMPLETE, as the event stream has shown. "
            "short: QUEUED, SENT_TO_CLEARING, COMPLETE, as the docs' event-stream sample shows."
        ),
    )
    transfer_return_seconds: float = Field(
        default=86400, ge=0, description="COMPLETE -> RETURNED when forced"
    )
    ach_approval_seconds: float = Field(
        default=0, ge=0, description="QUEUED -> PENDING (halfway) -> APPROVED for a new relationship"
    )
    ach_cancel_seconds: float = Field(
        default=0, ge=0, description="CANCEL_REQUESTED -> CANCELED for a deleted relationship"
    )
    settlement_days: int = Field(
        default=1,
        ge=0,
        description="Sale proceeds become withdrawable at T+N, N counting days both NYSE and banks open",
    )
    bank_calendar: bool = Field(
        default=True,
        description=(
            "ACH moves on bank business days only (the Federal Reserve's holidays): a transfer created after "
            "the cut-off, on a weekend or a bank holiday starts the next bank day, and none completes on a "
            "day the banks are shut. Off: transfers walk on the clock alone."
        ),
    )
    ach_cutoff: time = Field(
        default=time(14, 0), description="New York time after which ACH starts next bank day"
    )
    ach_day_starts: time = Field(
        default=time(9, 0), description="New York time ACH work starts on a bank day"
    )
    settlement_time: time = Field(default=time(8, 0), description="New York time of day proceeds settle")
    sec_fee_per_million: Decimal = Field(
        default=Decimal("27.80"),
        ge=0,
        description="SEC Section 31 fee on the proceeds of every sell fill, rounded up to the cent per fill",
    )
    taf_fee_per_share: Decimal = Field(
        default=Decimal("0.000166"),
        ge=0,
        description="FINRA Trading Activity Fee per share sold, rounded up to the cent per fill",
    )
    taf_fee_max: Decimal = Field(default=Decimal("8.30"), ge=0, description="FINRA TAF cap per fill")
    max_fill_qty: Decimal | None = Field(
        default=None,
        gt=0,
        description=(
            "Partial fills: each fill of an order for a quantity takes at most this many shares, the rest "
            "partial_fill_seconds later; a DAY order's unfilled rest expires at the close. None: whole fills"
        ),
    )
    partial_fill_seconds: float = Field(default=600, gt=0, description="Time between partial fills")
    journal_instant_limit: Decimal = Field(
        default=Decimal("50"),
        ge=0,
        description="A JNLC up to this amount executes at once; larger at next BOD",
    )
    journal_daily_limit: Decimal = Field(
        default=Decimal("1000"), ge=0, description="JNLC total per account per 24 h; above it is refused"
    )
    rate_limit_per_minute: int = Field(
        default=1000,
        ge=1,
        description="Calls per minute per credential (real time); X-RateLimit-* on every answer, 429 beyond",
    )
    rate_limit_window_seconds: float = Field(
        default=60, gt=0, description="The budget's window; shorter only to test a storm quickly"
    )
    unknown_account_status: Literal[404, 401] = Field(
        default=401,
        description="What an unknown account answers: 401 as alpaca-py's docstring says the API does, or 404",
    )
    event_history_days: float = Field(
        default=30, gt=0, description="Broker time the event streams keep; an older cursor finds what is left"
    )
    event_heartbeat_seconds: float = Field(
        default=15, gt=0, description="Real seconds between the streams' :heartbeat comments"
    )
    event_poll_seconds: float = Field(
        default=0.1, gt=0, description="Real seconds between a stream's looks at the broker for new events"
    )
    event_max_connections: int = Field(
        default=25, ge=1, description="Open event streams per credential; beyond it, 429 Too many requests"
    )
