"""AccountClosureWorkflow: one durable run per account, from initiation to ACCOUNT_CLOSED.

The run is a loop over phases. Every phase starts from broker truth and does only what is still missing,
so a retry, a continue-as-new or a legacy import lands in the right place. Anything a retry cannot fix
parks the closure in `needs_attention` with the reason, until an operator retries or cancels.
"""

from __future__ import annotations

from datetime import datetime

from temporalio import workflow
from temporalio.exceptions import ApplicationError

with workflow.unsafe.imports_passed_through():
    from activities.broker import BrokerActivities
    from closure.confirmation import confirmation_number
    from closure.operator_rules import OperatorAction, cancel_refusal, retry_refusal
    from closure.phases import ClosurePhase
    from closure.progress import (
        Attention,
        CancelRequest,
        ClosureInput,
        ClosureProgress,
        ClosureState,
        OperatorResult,
        PhaseChange,
        RetryRequest,
        WakeSignal,
    )
    from closure.search_attributes import ALPACA_ACCOUNT_ID, CLOSURE_NEEDS_ATTENTION, CLOSURE_PHASE
    from runtime import metrics


from workflows import notify
from workflows.final_closure import close
from workflows.halts import ClosureCancelled, ClosureHalted, ContinueAsNewRequested
from workflows.liquidation import liquidate
from workflows.preconditions import check_preconditions
from workflows.run import CONTINUE_AS_NEW_BY_LENGTH, ClosureRun, Phase
from workflows.settlement import settle
from workflows.transfers import follow_transfers
from workflows.withdrawal import withdraw

PHASES: dict[ClosurePhase, tuple[Phase, str]] = {
    ClosurePhase.INITIATED: (check_preconditions, "Checking the account"),
    ClosurePhase.LIQUIDATION: (liquidate, "Cancelling orders and selling positions"),
    ClosurePhase.SETTLEMENT: (settle, "Waiting for sale proceeds to settle"),
    ClosurePhase.WITHDRAWAL: (withdraw, "Withdrawing cash to the linked bank account"),
    ClosurePhase.WITHDRAWAL_24HR_WAIT: (withdraw, "Waiting for the next daily transfer window"),
    ClosurePhase.TRANSFER_COMPLETION: (follow_transfers, "Waiting for the last transfer to complete"),
    ClosurePhase.FINAL_CLOSURE: (close, "Closing the account"),
}


# Versioned workers run closures auto-upgrading (worker.deployment_config says why). The behaviour is set there
# and not here: an unversioned worker (make demo) whose workflow declares one never completes a closure.
@workflow.defn
class AccountClosureWorkflow:
    @workflow.init
    def __init__(self, input: ClosureInput) -> None:
        state = input.state or ClosureState(
            confirmation_number=input.confirmation_number
            or confirmation_number(workflow.info().first_execution_run_id),
            started_at=workflow.now(),
        )
        self._input = input
        self._run = ClosureRun(input.account_id, input.user_id, input.policy, state)
        self._retry: RetryRequest | None = None

    @workflow.run
    async def run(self, input: ClosureInput) -> ClosureProgress:
        run, state = self._run, self._run.state
        if not state.history:
            state.history.append(PhaseChange(phase=state.phase, at=workflow.now(), note="Closure requested"))
        workflow.upsert_search_attributes(
            [
                ALPACA_ACCOUNT_ID.value_set(input.account_id),
                CLOSURE_PHASE.value_set(state.phase.value),
                CLOSURE_NEEDS_ATTENTION.value_set(state.phase == ClosurePhase.NEEDS_ATTENTION),
            ]
        )
        if workflow.info().continued_run_id is None:
            metrics.closure_started()
        phase = state.phase
        while not phase.is_terminal:
            try:
                phase = await (self._attend() if phase == ClosurePhase.NEEDS_ATTENTION else self._step(phase))
            except ClosureHalted as halted:
                self._park(halted, resume_phase=state.phase)
                phase = ClosurePhase.NEEDS_ATTENTION
            except ClosureCancelled:
                await self._withdraw_sell_orders()
                await notify.cancelled(run)
                phase = ClosurePhase.CANCELLED
            except ContinueAsNewRequested:
                await run.drain()
                await workflow.wait_condition(workflow.all_handlers_finished)
                workflow.continue_as_new(input.model_copy(update={"state": state}))
        run.enter(phase, "Account closed" if phase == ClosurePhase.COMPLETED else "Closure cancelled")
        metrics.closure_ended(phase.value)
        if phase == ClosurePhase.COMPLETED and state.completed_at is None:
            state.completed_at = workflow.now()
        await run.drain()
        await workflow.wait_condition(workflow.all_handlers_finished)
        return self.progress()

    async def _withdraw_sell_orders(self) -> None:
        """A cancel before the sales filled leaves the customer's positions where they were."""
        run = self._run
        if not run.state.sell_orders_placed or run.state.amount_sent != 0:
            return
        try:
            await run.broker(BrokerActivities.cancel_orders, run.account_id, summary="withdraw sell orders")
        except ClosureHalted as halted:
            run.alert(
                "cancel_cleanup_failed", f"sell orders may still be open at the broker: {halted.reason}"
            )

    async def _step(self, phase: ClosurePhase) -> ClosurePhase:
        handler, step = PHASES[phase]
        self._run.enter(phase, step)
        return await handler(self._run)

    # --- needs attention ------------------------------------------------------------------------------------

    def _park(self, halted: ClosureHalted, resume_phase: ClosurePhase) -> None:
        run = self._run
        run.forget_reads()  # whatever an operator does next, the closure looks at the broker afresh after it
        now = workflow.now()
        run.state.attention = Attention(
            reason=halted.reason,
            error_type=halted.error_type,
            resume_phase=resume_phase,
            since=now,
            auto_retry_at=now + run.policy.attention_auto_retry if halted.transient else None,
        )
        run.enter(ClosurePhase.NEEDS_ATTENTION, f"Waiting for operations: {halted.reason}")
        run.alert("needs_attention", f"{halted.error_type}: {halted.reason}")
        metrics.needs_attention(halted.error_type)
        notify.attention(run, True)

    async def _attend(self) -> ClosurePhase:
        """Wait for an operator (or the auto-retry of a transient cause), then reconcile and resume."""
        run, state = self._run, self._run.state
        attention = state.attention
        if attention is None:  # parked without its reason (an import, a hand-made start): say so, and alert
            self._park(
                ClosureHalted("AttentionWithoutReason", _NO_REASON), resume_phase=ClosurePhase.INITIATED
            )
            return ClosurePhase.NEEDS_ATTENTION
        await self._wait_for_operator(attention.auto_retry_at)
        if run.cancel_requested:
            raise ClosureCancelled()
        for transfer in state.transfers:
            transfer.acknowledged = transfer.acknowledged or transfer.failed
        try:
            after = await check_preconditions(run)
        except ClosureHalted as again:
            self._park(again, resume_phase=attention.resume_phase)
            return ClosurePhase.NEEDS_ATTENTION
        finally:
            self._retry = None
        state.attention = None
        notify.attention(run, False)
        return after if attention.resume_phase == ClosurePhase.INITIATED else attention.resume_phase

    async def _wait_for_operator(self, auto_retry_at: datetime | None) -> None:
        """Until a retry, a cancel, or the automatic retry; rewriting the mirror now and then to keep it alive."""
        run = self._run
        run.forget_reads()
        while self._retry is None and not run.cancel_requested:
            timeout = run.policy.mirror_refresh_interval
            if auto_retry_at is not None:
                if workflow.now() >= auto_retry_at:
                    return
                timeout = min(timeout, auto_retry_at - workflow.now())
            try:
                await workflow.wait_condition(
                    lambda: self._retry is not None or run.cancel_requested,
                    timeout=timeout,
                    timeout_summary="operator retry or cancel",
                )
            except TimeoutError:
                run.changed()
                if workflow.patched(CONTINUE_AS_NEW_BY_LENGTH):
                    run.continue_as_new_if_long()  # an operator may take weeks: each refresh adds events

    # --- queries, signals, updates --------------------------------------------------------------------------

    @workflow.query
    def progress(self) -> ClosureProgress:
        return self._run.progress()

    @workflow.signal
    def wake(self, signal: WakeSignal) -> None:
        """Something changed at the broker (an event stream, an operator): look now instead of later."""
        self._run.woken = True

    @workflow.update
    async def retry(self, request: RetryRequest) -> OperatorResult:
        self._retry = request
        await workflow.wait_condition(lambda: self._retry is None)
        state = self._run.state
        message = state.attention.reason if state.attention else f"resumed in {state.phase.value}"
        return OperatorResult(accepted=True, phase=state.phase, message=message)

    @retry.validator
    def _validate_retry(self, request: RetryRequest) -> None:
        refusal = retry_refusal(self._run.state, self._retry is not None)
        if refusal:
            raise ValueError(refusal)

    @workflow.update
    async def cancel(self, request: CancelRequest) -> OperatorResult:
        refusal = self._cancel_refusal()
        if refusal:  # money may have started moving between the validator and now
            raise ApplicationError(refusal, type="CancelRefused", non_retryable=True)
        self._run.cancel_requested = True
        self._run.state.cancel_reason = f"{request.reason} (by {request.requested_by})"
        await workflow.wait_condition(lambda: self._run.state.phase == ClosurePhase.CANCELLED)
        return OperatorResult(
            accepted=True,
            phase=ClosurePhase.CANCELLED,
            message="closure cancelled; the account stays open with whatever was sold held as cash",
        )

    @cancel.validator
    def _validate_cancel(self, request: CancelRequest) -> None:
        refusal = self._cancel_refusal()
        if refusal:
            raise ValueError(refusal)

    def _cancel_refusal(self) -> str | None:
        return cancel_refusal(self._run.state)

    @workflow.query
    def operator_refusal(self, action: OperatorAction) -> str | None:
        """Why this operator action would be refused now (what a dry run shows), or None if it would run."""
        if action == OperatorAction.RETRY:
            return retry_refusal(self._run.state, self._retry is not None)
        return self._cancel_refusal()


_NO_REASON = "the closure was handed to operations without a recorded reason; check it, then retry or cancel"
