"""Withdrawal: send the cash in chunks of at most the daily limit, one chunk per 24 h window.

Each chunk is planned from the broker's own transfer list (so anyone's transfers count against the window),
then created check-then-create under a deterministic chunk key: a retried or crashed attempt adopts the
transfer it already made. While a create's outcome is unknown no other chunk starts.
"""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from activities.broker import BrokerActivities
    from closure import metrics
    from closure.broker_types import (
        CreateWithdrawalInput,
        PlanWithdrawalInput,
        TrackTransfersInput,
        TransferPlan,
        TransferView,
    )
    from closure.errors import NoApprovedAchRelationship, TransferFailed
    from closure.money import format_usd
    from closure.phases import ClosurePhase
    from closure.progress import PendingChunk, TransferRecord

from workflows import notify
from workflows.run import ClosureHalted, ClosureRun


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
                tracked_transfer_ids=[t.transfer_id for t in state.transfers],
            ),
            summary="plan the next chunk",
        )
        run.observed_broker_time(plan.broker_now)
        apply_statuses(run, plan.tracked)
        state.last_cash, state.last_withdrawable = plan.cash, plan.cash_withdrawable
        if plan.cash_withdrawable == 0:
            return ClosurePhase.SETTLEMENT if plan.cash > 0 else ClosurePhase.TRANSFER_COMPLETION
        if await _wait_for_window(run, plan):
            continue
        run.checkpoint()  # a cancel accepted before this point still wins; after it, money moves
        chunk = len(state.transfers) + 1
        state.pending_chunk = PendingChunk(
            chunk=chunk,
            chunk_key=f"{workflow.info().workflow_id}:withdrawal:{chunk}",
            amount=plan.amount,
            relationship_id=_relationship_id(run),
            outgoing_before=plan.outgoing_before,
        )
        await _create(run, state.pending_chunk)


async def _wait_for_window(run: ClosureRun, plan: TransferPlan) -> bool:
    """Wait (polling our transfers) while the spacing or the broker's window forbids a chunk."""
    state, policy = run.state, run.policy
    now = workflow.now()
    next_chunk_at = state.next_chunk_at(policy.transfer_spacing)
    if next_chunk_at is not None and now < next_chunk_at:
        wait = min(next_chunk_at - now, policy.transfer_poll_interval)
        next_amount = format_usd(min(plan.cash_withdrawable, policy.daily_transfer_limit))
        state.next_action_at = next_chunk_at
        run.enter(
            ClosurePhase.WITHDRAWAL_24HR_WAIT,
            f"{format_usd(plan.cash_withdrawable)} left; the next transfer of {next_amount} goes when the "
            f"daily limit allows",
        )
        await run.pause(wait, "24 h transfer spacing")
        return True
    if plan.amount == 0:
        frees = plan.window_frees_at or plan.broker_now + timedelta(hours=1)
        run.enter(ClosurePhase.WITHDRAWAL_24HR_WAIT, "Today's transfer limit is used by other transfers")
        wait = min(policy.broker_to_workflow(frees - plan.broker_now), policy.transfer_poll_interval)
        await run.pause(wait, "rolling 24 h limit")
        return True
    return False


async def _create(run: ClosureRun, pending: PendingChunk) -> None:
    state = run.state
    run.enter(ClosurePhase.WITHDRAWAL, f"Sending transfer {pending.chunk} of {format_usd(pending.amount)}")
    try:
        created = await run.broker(
            BrokerActivities.create_withdrawal,
            CreateWithdrawalInput(
                account_id=run.account_id,
                relationship_id=pending.relationship_id,
                amount=pending.amount,
                chunk_key=pending.chunk_key,
                outgoing_before=pending.outgoing_before,
            ),
            summary=f"send chunk {pending.chunk}",
            retry_initial=run.policy.withdrawal_retry_delay,
        )
    except ClosureHalted as halted:
        if halted.error_type == "WithdrawalRefused":
            state.pending_chunk = None  # the broker said no: nothing was created, the outcome is known
        raise
    transfer = created.transfer
    record = TransferRecord(
        chunk=pending.chunk,
        chunk_key=pending.chunk_key,
        transfer_id=transfer.id,
        amount=transfer.amount,
        status=transfer.status,
        initiated_at=transfer.created_at,
        updated_at=transfer.updated_at,
        adopted=created.adopted,
        requested_at=workflow.now(),
    )
    state.transfers.append(record)
    state.pending_chunk = None
    metrics.withdrawn(record.amount)
    metrics.transfer_status(record.status)
    run.changed()
    notify.transfer_sent(run, record)
    run.observed_broker_time(transfer.created_at)


async def follow_transfers(run: ClosureRun) -> ClosurePhase:
    """Transfer completion: follow our transfers until every one is COMPLETE."""
    while True:
        in_flight = [t.transfer_id for t in run.state.transfers if t.in_flight]
        if not in_flight:
            return ClosurePhase.FINAL_CLOSURE
        views = await run.broker(
            BrokerActivities.track_transfers,
            TrackTransfersInput(account_id=run.account_id, transfer_ids=in_flight),
            summary="check transfer status",
        )
        apply_statuses(run, views)
        if all(not t.in_flight for t in run.state.transfers):
            return ClosurePhase.FINAL_CLOSURE
        run.state.step = (
            f"Waiting for {sum(t.in_flight for t in run.state.transfers)} transfer(s) to complete"
        )
        await run.pause(run.policy.transfer_poll_interval, "transfer status poll")


def apply_statuses(run: ClosureRun, views: list[TransferView]) -> None:
    """Record the broker's statuses; a newly failed transfer stops the closure for an operator."""
    by_id = {v.id: v for v in views}
    moved = False
    for record in run.state.transfers:
        view = by_id.get(record.transfer_id)
        if view is None or view.status == record.status:
            continue
        record.status, record.updated_at, record.reason = view.status, view.updated_at, view.reason
        metrics.transfer_status(view.status)
        moved = True
    if moved:
        run.changed()
    failed = [t for t in run.state.transfers if t.failed and not t.acknowledged]
    if failed:
        first = failed[0]
        raise ClosureHalted(
            TransferFailed.__name__,
            f"transfer {first.chunk} ({first.transfer_id}, {format_usd(first.amount)}) ended {first.status}"
            + (f": {first.reason}" if first.reason else "")
            + "; the money is back at the broker and will be sent again after an operator retries",
        )


def _relationship_id(run: ClosureRun) -> str:
    relationship = run.state.relationship
    if relationship is None:
        raise ClosureHalted(
            NoApprovedAchRelationship.__name__, "no APPROVED ACH relationship to send the money to"
        )
    return relationship.id
