"""Every duration and limit a closure obeys, carried in the workflow input."""

from __future__ import annotations

from datetime import time, timedelta
from decimal import Decimal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from closure.money import Money


class ClosurePolicy(BaseModel):
    """Production defaults; settings override them, tests may shorten them.

    A running closure keeps the policy it was started with (it is part of the workflow input),
    so changing a setting affects new closures only.
    """

    model_config = ConfigDict(frozen=True)

    daily_transfer_limit: Money = Field(
        default=Decimal("50000.00"), gt=0, description="Most dollars sent out in any rolling 24 h window."
    )
    transfer_spacing: timedelta = Field(
        default=timedelta(hours=24), description="Gap between the initiation of one chunk and the next."
    )
    liquidation_poll_interval: timedelta = Field(default=timedelta(minutes=1))
    liquidation_timeout: timedelta = Field(
        default=timedelta(minutes=15),
        description="Open-market time allowed for positions and orders to clear before ops is called.",
    )
    market_open_grace: timedelta = Field(
        default=timedelta(minutes=1),
        description="Extra wait after the broker's next open before re-checking.",
    )
    settlement_poll_interval: timedelta = Field(
        default=timedelta(hours=2),
        description="How often settlement is looked at once its expected time has passed.",
    )
    settlement_days: int = Field(
        default=1,
        ge=0,
        description="T+n: the sale proceeds settle n days on which both exchange and banks open.",
    )
    settlement_expected_time: time = Field(
        default=time(8, 0),
        description=(
            "New York time of day the broker makes settled proceeds withdrawable. The settlement wait sleeps "
            "until then on the settlement date and looks, instead of polling through the night."
        ),
    )
    settlement_alert_business_days: int = Field(
        default=3, ge=1, description="Business days of waiting for settlement before an ops alert."
    )
    transfer_poll_interval: timedelta = Field(
        default=timedelta(hours=2), description="How often an in-flight transfer's status is read."
    )
    event_poll_interval: timedelta | None = Field(
        default=None,
        description=(
            "Set when the event listener runs: its wake signal brings transfer news within seconds, so the "
            "transfer polls fall back to this rarer interval (a dead listener slows closures to it). None: no "
            "listener, poll at transfer_poll_interval."
        ),
    )
    close_verify_interval: timedelta = Field(default=timedelta(minutes=1))
    close_verify_timeout: timedelta = Field(default=timedelta(hours=2))
    broker_retry_budget: timedelta = Field(
        default=timedelta(hours=1),
        description="How long one broker call keeps retrying infrastructure errors before ops is called.",
    )
    broker_retry_max_interval: timedelta = Field(default=timedelta(minutes=2))
    notification_retry_budget: timedelta = Field(
        default=timedelta(minutes=30),
        description="How long an email, user-record flag or mirror write keeps retrying before ops is told.",
    )
    mirror_refresh_interval: timedelta = Field(
        default=timedelta(hours=24),
        description="While a closure waits for ops, the mirror is rewritten this often so its TTL never lapses.",
    )
    withdrawal_retry_delay: timedelta = Field(
        default=timedelta(seconds=15),
        description=(
            "First wait before re-checking a transfer create whose outcome is unknown; longer than the broker "
            "request timeout, so a slow create has landed before the broker's list is read again."
        ),
    )
    ambiguous_create_hold: timedelta = Field(
        default=timedelta(minutes=15),
        description=(
            "After a transfer create whose outcome is unknown (timeout, reset, 5xx), how long the chunk stays "
            "quarantined with the broker's list unchanged before it may be created again. Longer than the broker "
            "can take to process a request it has received; a transfer that appears meanwhile is adopted."
        ),
    )
    returns_watch: int = Field(
        default=3,
        ge=0,
        description=(
            "Bank business days a COMPLETE transfer is watched for an ACH return before the account is closed. "
            "R01-R04 returns come back within about two bank days; one more day covers the broker posting it."
        ),
    )
    returns_poll_interval: timedelta = Field(
        default=timedelta(hours=24),
        description="How often the transfer list is read during the returns watch (a wake signal reads it now).",
    )
    attention_auto_retry: timedelta = Field(
        default=timedelta(hours=1),
        description="When a closure waits for ops because the broker was unreachable, it tries again after this.",
    )
    continue_as_new_events: int = Field(
        default=4000,
        ge=100,
        description=(
            "Start a fresh run (carrying the closure's whole state) at the next wait once the history has this "
            "many events, or sooner when the server suggests it; keeps any closure far under Temporal's limits."
        ),
    )
    broker_task_queue: str | None = Field(
        default=None,
        description="Task queue of the rate-limited broker workers; None runs broker calls beside the workflow.",
    )
    broker_clock_rate: float = Field(
        default=1.0,
        gt=0,
        description=(
            "Broker seconds per workflow second. 1 against a real broker; larger only against a simulator whose "
            "clock runs fast, so waits derived from the broker clock (market open, rolling window) scale too."
        ),
    )

    @field_validator(
        "transfer_spacing",
        "liquidation_poll_interval",
        "settlement_poll_interval",
        "transfer_poll_interval",
        "close_verify_interval",
        "broker_retry_budget",
        "ambiguous_create_hold",
        "returns_poll_interval",
        "event_poll_interval",
    )
    @classmethod
    def _positive(cls, value: timedelta | None) -> timedelta | None:
        if value is not None and value <= timedelta(0):
            raise ValueError("must be a positive duration")
        return value

    @property
    def status_poll_interval(self) -> timedelta:
        """How often a transfer whose timing the broker does not predict is looked at."""
        return self.event_poll_interval or self.transfer_poll_interval

    def broker_to_workflow(self, broker_duration: timedelta) -> timedelta:
        """Turn a span of broker time into the span of workflow time to wait for it."""
        if broker_duration <= timedelta(0):
            return timedelta(0)
        return broker_duration / self.broker_clock_rate

    def scaled(self, factor: float) -> ClosurePolicy:
        """The same business waits divided by `factor`, with a broker clock `factor` times faster.

        Used to watch a closure in minutes against a simulator whose clock runs `factor` times faster; the two
        stay consistent, so the simulated timeline matches production. Retry budgets and timeouts are about
        real infrastructure and keep their real durations.
        """
        waits = {
            name: getattr(self, name) / factor for name in _BUSINESS_WAITS if getattr(self, name) is not None
        }
        return self.model_copy(update={**waits, "broker_clock_rate": self.broker_clock_rate * factor})


_BUSINESS_WAITS = (
    "transfer_spacing",
    "liquidation_poll_interval",
    "liquidation_timeout",
    "market_open_grace",
    "settlement_poll_interval",
    "transfer_poll_interval",
    "returns_poll_interval",
    "event_poll_interval",
    "attention_auto_retry",
)
