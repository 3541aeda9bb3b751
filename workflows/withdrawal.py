"""Withdrawal: send the cash in chunks of at most the daily limit, one chunk per 24 h window.

Each chunk is planned from the broker's own transfer list (so anyone's transfers count against the window),
then created check-then-create under a deterministic chunk key: a retried or crashed attempt adopts the
transfer it already made. A create whose outcome is unknown (a timeout, a reset, a 5xx after sending)
quarantines its chunk: no new create until the transfer appears (adopted) or the hold passes with the list
unchanged. While a create's outcome is unknown no other chunk starts. An outgoing transfer that no chunk
owns is counted in what left the account and alerted. Completed transfers are followed for a returns watch
(`transfers.py`) before the close.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from activities.broker import BrokerActivities
    from closure.broker_types import (
        CreatedWithdrawal,
        CreateWithdrawalInput,
        PlanWithdrawalInput,
        ReviewTransfersInput,
        TransferPlan,
        TransferView,
    )
    from closure.confirmation import chunk_key
    from closure.errors import (
        BrokerUnavailable,
        NoApprovedAchRelationship,
        WithdrawalOutcomeUnknown,
        WithdrawalRefused,
    )
    from closure.money import format_usd
    from closure.phases import ClosurePhase
    from closure.progress import PendingChunk, TransferRecord
    from runtime import metrics

from workflows import notify
from workflows.halts import ClosureHalted
from workflows.run import COMBINED_READS, ClosureRun
from workflows.transfers import (
    PREDICTED_WAITS,
    QUARANTINE,
    apply_statuses,
    in_flight_poll,
    note_unowned,
)

_NEVER = timedelta(days=3650)


async def withdraw(run: ClosureRun) -> ClosurePhase:
    state, policy = run.state, run.policy
    while True:
        if state.pending_chunk is not None:
            await _create(run, state.pending_chunk)
        plan = await run.broker(
            BrokerActivities.plan_withdrawal,
            PlanWithdrawalInput(
                account_id=run.account_id,
                daily_limit=policy.daily_transfer_limit,
                tracked_transfer_ids=[t.transfer_id for t in state.outgoing],
                known_transfer_ids=state.known_transfer_ids(),
            ),
            summary="plan the next chunk",
        )
        run.observed_broker_time(plan.broker_now)
        note_unowned(run, plan.unknown)
        apply_statuses(run, plan.tracked)
        run.saw_transfers()
        state.last_cash, state.last_withdrawable = plan.cash, plan.cash_withdrawable
        if plan.cash_withdrawable == 0:
            return ClosurePhase.SETTLEMENT if plan.cash > 0 else ClosurePhase.TRANSFER_COMPLETION
        if await _wait_for_window(run, plan):
            continue
        run.checkpoint()  # a cancel accepted before this point still wins; after it, money moves
        chunk = len(state.transfers) + 1
        state.pending_chunk = PendingChunk(
            chunk=chunk,
            chunk_key=chunk_key(workflow.info().workflow_id, chunk),
            amount=plan.amount,
            relationship_id=_relationship_id(run),
            outgoing_before=plan.outgoing_before,
        )
        await _create(run, state.pending_chunk)
        if plan.amount < plan.cash_withdrawable and workflow.patched(COMBINED_READS):
            # More is left, and the spacing just began: nothing at the broker can let a chunk go sooner. The
            # broker takes a transfer out of cash when it is created, so the amounts are known without a look.
            state.last_cash -= plan.amount
            state.last_withdrawable = plan.cash_withdrawable - plan.amount
            await _spacing_wait(run, state.last_withdrawable)


async def _wait_for_window(run: ClosureRun, plan: TransferPlan) -> bool:
    """Wait (polling our transfers) while the spacing or the broker's window forbids a chunk."""
    policy = run.policy
    if await _spacing_wait(run, plan.cash_withdrawable):
        return True
    if plan.amount == 0:
        frees = plan.window_frees_at or plan.broker_now + timedelta(hours=1)
        run.enter(ClosurePhase.WITHDRAWAL_24HR_WAIT, "Today's transfer limit is used by other transfers")
        poll = policy.transfer_poll_interval
        if workflow.patched(PREDICTED_WAITS) and plan.window_frees_at is not None:
            poll = _status_poll(run)
        wait = min(policy.broker_to_workflow(frees - plan.broker_now), poll)
        await run.pause(wait, "rolling 24 h limit")
        return True
    return False


async def _spacing_wait(run: ClosureRun, left: Decimal) -> bool:
    """Wait while the spacing since our last chunk forbids the next one; False when it does not."""
    state, policy = run.state, run.policy
    now = workflow.now()
    next_chunk_at = state.next_chunk_at(policy.transfer_spacing)
    if next_chunk_at is None or now >= next_chunk_at:
        return False
    wait = min(next_chunk_at - now, _status_poll(run))
    next_amount = format_usd(min(left, policy.daily_transfer_limit))
    state.next_action_at = next_chunk_at
    run.enter(
        ClosurePhase.WITHDRAWAL_24HR_WAIT,
        f"{format_usd(left)} left; the next transfer of {next_amount} goes when the daily limit allows",
    )
    await run.pause(wait, "24 h transfer spacing")
    return True


def _status_poll(run: ClosureRun) -> timedelta:
    """How soon a wait with a known end looks at the broker anyway: only while one of our transfers is in
    flight (its completion or a return is the broker's to time), at the status poll; else never before."""
    if not workflow.patched(PREDICTED_WAITS):
        return run.policy.transfer_poll_interval
    if any(t.in_flight for t in run.state.outgoing):
        return in_flight_poll(run, run.broker_now())
    return _NEVER


async def _create(run: ClosureRun, pending: PendingChunk) -> None:
    run.enter(ClosurePhase.WITHDRAWAL, f"Sending transfer {pending.chunk} of {format_usd(pending.amount)}")
    if not workflow.patched(QUARANTINE):
        created = await _create_retried_by_temporal(run, pending)
        _record(run, pending, created.transfer, created.adopted)
        return
    while True:
        if pending.hold_until is not None:
            appeared = await _quarantine(run, pending)
            if appeared is not None:
                _record(run, pending, appeared, adopted=True)
                return
        outcome = await _try_create(run, pending)
        if outcome is not None:
            _record(run, pending, outcome.transfer, outcome.adopted)
            return


async def _try_create(run: ClosureRun, pending: PendingChunk) -> CreatedWithdrawal | None:
    """One create at a time, retried here (not by Temporal) only while the broker certainly did not act;
    None when the outcome is unknown and the chunk is now quarantined."""
    policy = run.policy
    first_failure: datetime | None = None
    delay = policy.withdrawal_retry_delay
    while True:
        try:
            return await run.broker(
                BrokerActivities.create_withdrawal,
                _create_input(run, pending),
                summary=f"send chunk {pending.chunk}",
                attempts=1,
            )
        except ClosureHalted as halted:
            if halted.is_a(WithdrawalRefused):
                # The broker said no: nothing was created, the outcome is known.
                run.state.pending_chunk = None
                raise
            if halted.is_a(WithdrawalOutcomeUnknown) or halted.timed_out:
                _hold(run, pending, halted.reason)
                return None
            if not halted.is_a(BrokerUnavailable):
                raise
            first_failure = first_failure or workflow.now()
            if workflow.now() - first_failure >= policy.broker_retry_budget:
                raise ClosureHalted(halted.error_type, halted.reason, transient=True) from halted
            wait = max(delay, halted.retry_after or delay)  # a 429 says when the budget is back
            run.forget_reads()
            await workflow.sleep(wait, summary=f"chunk {pending.chunk}: broker did not take the create")
            delay = min(delay * 2, max(policy.broker_retry_max_interval, policy.withdrawal_retry_delay))


def _hold(run: ClosureRun, pending: PendingChunk, why: str) -> None:
    pending.hold_until = workflow.now() + run.policy.ambiguous_create_hold
    workflow.logger.warning(
        "closure %s: outcome of %s unknown (%s); quarantined until %s",
        run.account_id,
        pending.chunk_key,
        why,
        pending.hold_until,
    )
    run.changed()


async def _quarantine(run: ClosureRun, pending: PendingChunk) -> TransferView | None:
    """Watch the broker's list until the transfer appears (returned, to adopt) or the hold passes (None)."""
    assert pending.hold_until is not None
    while True:
        review = await run.broker(
            BrokerActivities.review_transfers,
            ReviewTransfersInput(
                account_id=run.account_id, tracked_transfer_ids=[], known_transfer_ids=pending.outgoing_before
            ),
            summary=f"chunk {pending.chunk}: look for a transfer whose create went unanswered",
        )
        run.observed_broker_time(review.broker_now)
        appeared = [t for t in review.unknown if not t.failed]
        if appeared:
            same = [t for t in appeared if t.amount == pending.amount] or appeared
            return same[0]
        now = workflow.now()
        if now >= pending.hold_until:
            run.alert(
                "create_outcome_unknown",
                f"the create for {pending.chunk_key} went unanswered and no transfer appeared within "
                f"{run.policy.ambiguous_create_hold}; creating it again (a late duplicate would be reported "
                "as an unowned transfer)",
                email=False,
            )
            pending.hold_until = None
            return None
        run.state.step = f"Transfer {pending.chunk}: not confirmed by the broker yet; checking its list"
        wait = min(run.policy.ambiguous_create_hold / 5, pending.hold_until - now)
        await run.pause(wait, "unanswered create: quarantine")


def _create_input(run: ClosureRun, pending: PendingChunk) -> CreateWithdrawalInput:
    return CreateWithdrawalInput(
        account_id=run.account_id,
        relationship_id=pending.relationship_id,
        amount=pending.amount,
        chunk_key=pending.chunk_key,
        outgoing_before=pending.outgoing_before,
    )


async def _create_retried_by_temporal(run: ClosureRun, pending: PendingChunk) -> CreatedWithdrawal:
    """Closures started before the quarantine existed replay this path unchanged."""
    try:
        return await run.broker(
            BrokerActivities.create_withdrawal,
            _create_input(run, pending),
            summary=f"send chunk {pending.chunk}",
            retry_initial=run.policy.withdrawal_retry_delay,
        )
    except ClosureHalted as halted:
        if halted.is_a(WithdrawalRefused):
            run.state.pending_chunk = None
        raise


def _record(run: ClosureRun, pending: PendingChunk, transfer: TransferView, adopted: bool) -> None:
    state = run.state
    record = TransferRecord(
        chunk=pending.chunk,
        chunk_key=pending.chunk_key,
        transfer_id=transfer.id,
        amount=transfer.amount,
        status=transfer.status,
        initiated_at=transfer.created_at,
        updated_at=transfer.updated_at,
        adopted=adopted,
        requested_at=workflow.now(),
    )
    state.transfers.append(record)
    state.pending_chunk = None
    metrics.withdrawn(record.amount)
    metrics.transfer_status(record.status)
    run.changed()
    notify.transfer_sent(run, record)
    run.observed_broker_time(transfer.created_at)


def _relationship_id(run: ClosureRun) -> str:
    relationship = run.state.relationship
    if relationship is None:
        raise ClosureHalted.because(
            NoApprovedAchRelationship("no APPROVED ACH relationship to send the money to")
        )
    return relationship.id
