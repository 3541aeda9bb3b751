"""What each email says, as data. The workflow sends facts; names and addresses are looked up at send time,
so no personal data enters the workflow history."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Literal

from pydantic import AwareDatetime, BaseModel, Field

from closure.money import Money


class ClosureEstimate(BaseModel):
    transfers: int
    earliest: date
    latest: date
    steps: list[str] = Field(description="Why, in the customer's words, one line per stage.")


class InitiationFacts(BaseModel):
    kind: Literal["initiation"] = "initiation"
    confirmation_number: str
    cash: Money
    positions: int
    open_orders: int
    bank_last4: str | None
    daily_limit: Money
    estimate: ClosureEstimate


class TransferFacts(BaseModel):
    kind: Literal["transfer_sent"] = "transfer_sent"
    confirmation_number: str
    chunk: int
    amount: Money
    bank_last4: str | None
    initiated_at: AwareDatetime
    expected_by: date
    sent_so_far: Money
    remaining: Money


class TransferLine(BaseModel):
    chunk: int
    amount: Money
    initiated_at: AwareDatetime
    status: str


class CompletionFacts(BaseModel):
    kind: Literal["completion"] = "completion"
    confirmation_number: str
    total_withdrawn: Money
    transfers: list[TransferLine]
    bank_last4: str | None
    closed_on: date


CustomerFacts = Annotated[InitiationFacts | TransferFacts | CompletionFacts, Field(discriminator="kind")]


class OpsAlertFacts(BaseModel):
    kind: Literal["ops_alert"] = "ops_alert"
    account_id: str
    workflow_id: str
    confirmation_number: str
    phase: str
    alert: str
    reason: str
    since: datetime
    what_to_do: list[str]


class CustomerEmail(BaseModel):
    account_id: str
    message_key: str
    facts: CustomerFacts


class OpsEmail(BaseModel):
    message_key: str
    facts: OpsAlertFacts


class SendResult(BaseModel):
    message_key: str
    status: Literal["sent", "duplicate", "assumed_sent"]
    provider_message_id: str | None = None
