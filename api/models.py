"""What the API accepts and returns (the progress itself is `closure.progress.ClosureProgress`)."""

from __future__ import annotations

from typing import Literal

from pydantic import AwareDatetime, BaseModel, Field

from closure.broker_types import AccountView
from closure.customer_view import CustomerStatus
from closure.email_facts import ClosureEstimate
from closure.money import Money
from closure.operators import AuditEntry
from closure.phases import ClosurePhase
from closure.progress import ClosureProgress
from workflows.client import ClosureSummary


class ClosureStartedPublic(BaseModel):
    account_id: str
    workflow_id: str
    confirmation_number: str
    status: Literal["pending_closure"] = "pending_closure"
    already_started: bool = Field(description="True when this call found the closure already running.")
    progress_url: str


class ProgressPublic(ClosureProgress):
    source: Literal["mirror", "workflow"] = Field(description="Where this view came from.")


class CustomerStatusPublic(CustomerStatus):
    """The status page's view of a closure (closure.customer_view)."""


class ClosurePreviewPublic(BaseModel):
    """What closing the account would do, as the confirmation page states it before anything starts."""

    account_id: str
    eligible: bool
    refusal: str | None = Field(description="Why the account cannot be closed now, when it cannot.")
    cash: Money
    positions: int
    open_orders: int
    bank_last4: str | None
    daily_limit: Money
    estimate: ClosureEstimate | None


class WaitingClosure(BaseModel):
    account_id: str
    confirmation_number: str
    reason: str
    error_type: str
    since: AwareDatetime
    waited_seconds: float
    auto_retry_at: AwareDatetime | None


class ClosureOverview(BaseModel):
    """The dashboard's first screen: how many closures are in each phase, and who waits for an operator."""

    counts: dict[str, int] = Field(description="Running closures per phase; finished ones per end.")
    needs_attention: list[WaitingClosure] = Field(description="Longest waiting first.")


class BrokerStatePublic(BaseModel):
    account_id: str
    view: AccountView


class ClosureDataPublic(BaseModel):
    user_id: str
    accounts: list[AccountClosurePublic]


class AccountClosurePublic(BaseModel):
    account_id: str
    record_status: str = Field(description="The user record: active, pending_closure or closed.")
    closure: ProgressPublic | None


class ClosureList(BaseModel):
    closures: list[ClosureSummary]


class OperatorRequest(BaseModel):
    operator: str | None = Field(
        default=None,
        min_length=1,
        max_length=200,
        description=(
            "With the automation token: the person or job it acts for, recorded beside it. An operator's own "
            "token names them, and this is ignored."
        ),
    )
    reason: str = Field(default="", max_length=1000, description="Why, for the audit trail")
    dry_run: bool = Field(
        default=False, description="Say what would be done, as the closure itself judges it"
    )


class OperatorOutcome(BaseModel):
    account_id: str
    accepted: bool = Field(description="Whether the action was carried out (false for a dry run).")
    phase: ClosurePhase | None
    message: str


class AuditTrailPublic(BaseModel):
    account_id: str
    entries: list[AuditEntry] = Field(description="Every operator action on the closure, oldest first.")


class Liveness(BaseModel):
    status: Literal["ok"] = "ok"


class Health(BaseModel):
    status: Literal["ok", "degraded"]
    temporal: Literal["ok", "unreachable"]
    redis: Literal["ok", "unreachable", "disabled"]


ClosureDataPublic.model_rebuild()
