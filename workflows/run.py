"""What every phase of a closure shares: its state, broker calls, durable waits, and phase changes.

Phase modules receive a `ClosureRun` and return the next phase; they never touch Temporal directly except
through it, which keeps each of them short and the rules (retries, waits that can be woken, checkpoints
for cancel and continue-as-new) in one place.
"""

from __future__ import annotations

import asyncio
import builtins
import contextlib
from collections.abc import Awaitable, Callable, Coroutine
from datetime import datetime, timedelta
from typing import Any, TypeVar

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, FailureError

with workflow.unsafe.imports_passed_through():
    from activities.alerts import AlertActivities
    from activities.broker import BrokerActivities
    from activities.emails import EmailActivities
    from activities.mirror import MirrorActivities
    from adapters.redis.mirror import MirrorWrite
    from closure.broker_types import AccountView
    from closure.phases import ClosurePhase
    from closure.policy import ClosurePolicy
    from closure.progress import BrokerClockAnchor, ClosureProgress, ClosureState, OpsAlert, PhaseChange
    from closure.search_attributes import CLOSURE_NEEDS_ATTENTION, CLOSURE_PHASE
    from runtime import metrics
    from workflows.alerts import ops_email

from workflows.halts import ClosureCancelled, ClosureHalted, ContinueAsNewRequested, halt_from

T = TypeVar("T")

# Behind `workflow.patched()`: ops alerts go to the webhook as well as by email.
WEBHOOK_ALERTS = "webhook-alerts"
# Behind `workflow.patched()`: a read made since the last wait stands in for the same read again.
COMBINED_READS = "combined-reads"
CONTINUE_AS_NEW_BY_LENGTH = "continue-as-new-by-length"
MIRROR_COALESCED = "mirror-coalesced"  # one local-activity write of the newest state at a time
_MIRROR_ATTEMPT = timedelta(seconds=5)
LOOK_AFTER = timedelta(minutes=1)  # past a predicted moment: our timer and the broker's clock never agree


class ClosureRun:
    def __init__(
        self, account_id: str, user_id: str | None, policy: ClosurePolicy, state: ClosureState
    ) -> None:
        self.account_id = account_id
        self.user_id = user_id
        self.policy = policy
        self.state = state
        self.woken = False
        self.cancel_requested = False
        self._broker_anchor: tuple[datetime, datetime] | None = None
        self._background: list[asyncio.Task[Any]] = []
        self._account_seen: AccountView | None = None  # both forgotten at a wait, a halt, a broker write
        self._transfers_seen = False
        self._mirror_behind = self._mirroring = False

    # --- broker calls ---------------------------------------------------------------------------------------

    async def call(
        self,
        activity: Callable[..., T],
        arg: Any,
        *,
        summary: str,
        retry_initial: timedelta = timedelta(seconds=1),
        budget: timedelta | None = None,
        attempt_timeout: timedelta = timedelta(seconds=60),
        task_queue: str | None = None,
        attempts: int | None = None,
    ) -> T:
        """One broker activity: retried with backoff within the policy's budget, then ops is called.

        Whatever stops it arrives as `ClosureHalted`: a business error by its stable type name, an exhausted
        budget as a transient `BrokerUnavailable` that the closure retries on its own later.
        """
        budget = budget or self.policy.broker_retry_budget
        call: Awaitable[T] = workflow.execute_activity_method(
            activity,
            arg,
            start_to_close_timeout=attempt_timeout,
            schedule_to_close_timeout=budget,
            retry_policy=RetryPolicy(
                initial_interval=retry_initial,
                backoff_coefficient=2.0,
                maximum_interval=max(self.policy.broker_retry_max_interval, retry_initial),
                maximum_attempts=attempts or 0,
            ),
            summary=summary,
            task_queue=task_queue,
        )
        try:
            return await call
        except ActivityError as err:
            raise halt_from(err, summary, budget) from err

    async def broker(
        self,
        activity: Callable[..., T],
        arg: Any,
        *,
        summary: str,
        retry_initial: timedelta = timedelta(seconds=1),
        budget: timedelta | None = None,
        attempts: int | None = None,
    ) -> T:
        """A broker call, on the rate-limited broker task queue when the deployment has one."""
        if activity not in _READS:
            self.forget_reads()
        return await self.call(
            activity,
            arg,
            summary=summary,
            retry_initial=retry_initial,
            budget=budget,
            task_queue=self.policy.broker_task_queue,
            attempts=attempts,
        )

    async def side_effect(self, activity: Callable[..., T], arg: Any, *, summary: str) -> T | None:
        """An email, a record flag, a mirror write: retried within its budget; a failure is an alert, not a halt."""
        try:
            return await self.call(
                activity,
                arg,
                summary=summary,
                budget=self.policy.notification_retry_budget,
                attempt_timeout=timedelta(seconds=20),
            )
        except ClosureHalted as halted:
            alerting = activity in (EmailActivities.send_ops_alert, AlertActivities.send_webhook)
            self.alert("side_effect_failed", halted.reason, email=not alerting)
            return None

    # --- reads that stand in for the same read -------------------------------------------------------------

    async def inspect(self, summary: str) -> AccountView:
        """The account, read now, or as read since the last wait and the last broker write."""
        view = self._recent_account()
        if view is None:
            view = await self.broker(BrokerActivities.inspect_account, self.account_id, summary=summary)
            self.observed_broker_time(view.clock.now)
        self._account_seen = view
        return view

    def saw_transfers(self) -> None:
        self._transfers_seen = True

    def forget_reads(self) -> None:
        self._account_seen, self._transfers_seen = None, False

    def _recent_account(self) -> AccountView | None:
        """The account as read since the last wait and the last broker write: nothing can have moved it
        since but the customer within the same moment, and every later phase reads it again."""
        if self._account_seen is None or not workflow.patched(COMBINED_READS):
            return None
        return self._account_seen

    def transfers_seen(self) -> bool:
        """Whether the transfer list was read since the last wait and the last broker write."""
        return self._transfers_seen and workflow.patched(COMBINED_READS)

    def spawn(self, work: Coroutine[Any, Any, Any]) -> None:
        """Run a side effect beside the closure, so a slow mailer or Redis never holds the money up."""
        self._background.append(asyncio.create_task(work))

    async def drain(self) -> None:
        while self._background:
            pending, self._background = self._background, []
            await asyncio.gather(*pending)

    def observed_broker_time(self, broker_now: datetime) -> None:
        now = workflow.now()
        self._broker_anchor = (broker_now, now)
        for change in self.state.history:  # phase changes made before the first look at the broker
            if change.broker_at is None:
                change.broker_at = _broker_time_of(change.at, now, broker_now, self.policy.broker_clock_rate)

    def broker_now(self) -> datetime | None:
        """The broker's clock now, from the last look at it (it may run faster than ours in a simulation)."""
        if self._broker_anchor is None:
            return None
        seen, at = self._broker_anchor
        return seen + (workflow.now() - at) * self.policy.broker_clock_rate

    # --- waits ----------------------------------------------------------------------------------------------

    async def pause(self, duration: timedelta, summary: str) -> None:
        """A durable wait that a wake signal, a cancel or a long history ends early."""
        self.checkpoint()
        self.forget_reads()
        duration = max(duration, timedelta(milliseconds=10))
        if self.state.next_action_at is None or self.state.next_action_at < workflow.now():
            self.state.next_action_at = workflow.now() + duration
            self.changed()
        self.woken = False
        with contextlib.suppress(builtins.TimeoutError):
            await workflow.wait_condition(
                lambda: self.woken or self.cancel_requested, timeout=duration, timeout_summary=summary
            )
        self.state.next_action_at = None
        self.checkpoint()
        self.continue_as_new_if_long()

    def continue_as_new_if_long(self) -> None:
        """At a safe point: a fresh run once the server suggests one or the history reaches the policy's size."""
        info = workflow.info()
        if info.is_continue_as_new_suggested() or (
            info.get_current_history_length() >= self.policy.continue_as_new_events
            and workflow.patched(CONTINUE_AS_NEW_BY_LENGTH)
        ):
            raise ContinueAsNewRequested()

    def checkpoint(self) -> None:
        if self.cancel_requested:
            raise ClosureCancelled()

    # --- phases ---------------------------------------------------------------------------------------------

    def enter(self, phase: ClosurePhase, step: str) -> None:
        if (phase, step) == (self.state.phase, self.state.step):
            return
        self.state.step = step
        if phase == self.state.phase:
            self.changed()
            return
        if self.state.history:
            metrics.phase_duration(self.state.phase.value, workflow.now() - self.state.history[-1].at)
        self.state.phase = phase
        self.state.history.append(
            PhaseChange(phase=phase, at=workflow.now(), broker_at=self.broker_now(), note=step)
        )
        workflow.upsert_search_attributes(
            [
                CLOSURE_PHASE.value_set(phase.value),
                CLOSURE_NEEDS_ATTENTION.value_set(phase == ClosurePhase.NEEDS_ATTENTION),
            ]
        )
        workflow.logger.info("closure %s entered %s: %s", self.account_id, phase.value, step)
        self.changed()

    def changed(self) -> None:
        """Mirror the new state to Redis; the sequence makes a late write lose to a newer one."""
        self.state.mirror_sequence += 1
        if not workflow.patched(MIRROR_COALESCED):
            write = MirrorWrite(progress=self.progress())
            self.spawn(self.side_effect(MirrorActivities.publish, write, summary="mirror progress to Redis"))
            return
        self._mirror_behind = True
        if not self._mirroring:
            self._mirroring = True
            self.spawn(self._mirror())

    async def _mirror(self) -> None:
        """One write at a time, of the newest state: changes made during a write go out in the next one.

        Each write is first a local activity, tried once: a mirror write takes milliseconds, needs no task
        queue round trip and adds one history event instead of six. A local activity holds the workflow task
        while it runs, so a failed one is not retried there: that write goes again as an ordinary activity,
        retried beside the closure within the notification budget and reported to ops if it never lands.
        """
        try:
            while self._mirror_behind:
                self._mirror_behind = False
                write = MirrorWrite(progress=self.progress())
                try:
                    await workflow.execute_local_activity_method(
                        MirrorActivities.publish,
                        write,
                        start_to_close_timeout=_MIRROR_ATTEMPT,
                        retry_policy=RetryPolicy(maximum_attempts=1),
                        summary="mirror progress to Redis",
                    )
                except FailureError:  # a local activity's failure may arrive unwrapped, not as ActivityError
                    await self.side_effect(
                        MirrorActivities.publish, write, summary="mirror progress to Redis"
                    )
        finally:
            self._mirroring = False

    def progress(self) -> ClosureProgress:
        anchor = None
        if self._broker_anchor is not None:
            seen, at = self._broker_anchor
            anchor = BrokerClockAnchor(broker_at=seen, workflow_at=at, rate=self.policy.broker_clock_rate)
        return ClosureProgress.of(
            self.account_id, self.user_id, workflow.info().workflow_id, self.state, self.policy, anchor
        )

    def alert(self, kind: str, message: str, email: bool = True) -> None:
        alert = OpsAlert(kind=kind, message=message, at=workflow.now())
        self.state.alerts.append(alert)
        workflow.logger.warning("ops alert for %s (%s): %s", self.account_id, kind, message)
        if email:  # "email": every channel to ops; off for an alert that one of them failed to send
            request = ops_email(self.progress(), alert, len(self.state.alerts))
            self.spawn(
                self.side_effect(EmailActivities.send_ops_alert, request, summary=f"email ops: {kind}")
            )
            if workflow.patched(WEBHOOK_ALERTS):
                self.spawn(
                    self.side_effect(AlertActivities.send_webhook, request, summary=f"webhook: {kind}")
                )


def _broker_time_of(at: datetime, now: datetime, broker_now: datetime, rate: float) -> datetime:
    """The broker's clock at workflow time `at`, from one look at both clocks.

    An entry older than this workflow (imported from the legacy system, stamped with a real-world time) or
    too far back to scale is left at its own time: scaling years by a fast simulated clock leaves the
    calendar, and an exception here would fail every workflow task of the closure.
    """
    if rate == 1:
        return broker_now - (now - at)
    if at < workflow.info().start_time:
        return at
    try:
        return broker_now - (now - at) * rate
    except OverflowError:
        return at


Phase = Callable[[ClosureRun], Awaitable[ClosurePhase]]

_READS: frozenset[Callable[..., Any]] = frozenset(
    {
        BrokerActivities.inspect_account,
        BrokerActivities.plan_withdrawal,
        BrokerActivities.review_transfers,
        BrokerActivities.track_transfers,
        BrokerActivities.business_deadline,
    }
)
