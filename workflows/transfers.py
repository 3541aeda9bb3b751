"""Following the closure's transfers at the broker: statuses, unowned transfers, and the returns watch.

An ACH transfer can come back RETURNED days after it was COMPLETE. So the account is closed only after every
completed transfer has been watched for `returns_watch` bank business days; a return inside the watch parks
the closure with the bank's return code (the money is back at the broker, and goes out again after an
operator's retry). The customer is only ever told what the broker's transfer list says left the account.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from activities.broker import BrokerActivities
    from closure.bank_calendar import NEW_YORK, ach_lands_by, bank_days_after
    from closure.broker_types import ReviewTransfersInput, TrackTransfersInput, TransferReview, TransferView
    from closure.errors import TransferFailed
    from closure.money import format_usd
    from closure.phases import TRANSFER_SUCCESS, ClosurePhase
    from closure.progress import ClosureState, TransferRecord
    from runtime import metrics

from workflows.halts import ClosureHalted
from workflows.run import LOOK_AFTER, ClosureRun

# Behaviour changes, each behind `workflow.patched()` so closures started before them replay unchanged.
QUARANTINE = "ambiguous-create-quarantine"
RETURNS_WATCH = "returns-watch"
LANDING_ESTIMATE = "transfer-landing-estimate"
UNOWNED_SINCE_START = "unowned-since-start"
PREDICTED_WAITS = "predicted-waits"
LANDING_WAITS = "landing-waits"


async def follow_transfers(run: ClosureRun) -> ClosurePhase:
    """Transfer completion: every transfer COMPLETE, then the returns watch, then the close."""
    if not workflow.patched(RETURNS_WATCH):
        return await _follow_in_flight(run)
    state, policy = run.state, run.policy
    while True:
        broker_now = await look_at_transfers(run)
        in_flight = sum(t.in_flight for t in state.outgoing)
        if in_flight:
            if workflow.patched(LANDING_ESTIMATE):
                _expect_landing(run, broker_now)
            run.enter(ClosurePhase.TRANSFER_COMPLETION, f"Waiting for {in_flight} transfer(s) to complete")
            poll = (
                in_flight_poll(run, broker_now)
                if workflow.patched(PREDICTED_WAITS)
                else policy.transfer_poll_interval
            )
            await run.pause(poll, "transfer status poll")
            continue
        watch_end = returns_watch_end(state, policy.returns_watch)
        if watch_end is None or broker_now >= watch_end:
            return ClosurePhase.FINAL_CLOSURE
        run.enter(
            ClosurePhase.TRANSFER_COMPLETION,
            f"Watching the completed transfers for a bank return until "
            f"{watch_end.astimezone(NEW_YORK):%a %b %-d %H:%M} New York time",
        )
        wait = min(policy.broker_to_workflow(watch_end - broker_now), policy.returns_poll_interval)
        await run.pause(wait, "returns watch")


def in_flight_poll(run: ClosureRun, broker_now: datetime | None) -> timedelta:
    """How long to wait before reading an in-flight transfer again.

    An ACH is expected at the bank by a moment the banking calendar fixes; before it the closure has nothing
    to act on (a completion changes nothing until then, and a failure only stops the closure for an operator),
    so it sleeps until that moment and then polls at the status poll. The event listener wakes it at once
    for either.
    """
    policy = run.policy
    flying = [t.initiated_at for t in run.state.outgoing if t.in_flight]
    if flying and broker_now is not None and workflow.patched(LANDING_WAITS):
        lands = ach_lands_by(max(flying))
        if lands > broker_now:
            return policy.broker_to_workflow(lands - broker_now) + LOOK_AFTER
    return policy.status_poll_interval


def _expect_landing(run: ClosureRun, broker_now: datetime) -> None:
    """Tell the customer when the money should be at the bank, by the banking calendar and the cut-off."""
    flying = [t.initiated_at for t in run.state.outgoing if t.in_flight]
    lands = ach_lands_by(max(flying)) if flying else broker_now
    expected = workflow.now() + run.policy.broker_to_workflow(lands - broker_now)
    if lands > broker_now and run.state.next_action_at != expected:
        run.state.next_action_at = expected
        run.changed()


def returns_watch_end(state: ClosureState, bank_days: int) -> datetime | None:
    """When the last completed transfer has been watched long enough for a return (broker clock)."""
    completed = [t.updated_at or t.initiated_at for t in state.outgoing if t.status == TRANSFER_SUCCESS]
    if not completed or bank_days == 0:
        return None
    return max(bank_days_after(at, bank_days) for at in completed)


async def look_at_transfers(run: ClosureRun) -> datetime:
    """The broker's time after the closure's statuses are up to date: read now, unless the list was read
    since the last wait and the last broker write (the plan that found nothing left to send, say)."""
    broker_now = run.broker_now()
    if broker_now is not None and run.transfers_seen():
        return broker_now
    return (await review_transfers(run)).broker_now


async def review_transfers(run: ClosureRun) -> TransferReview:
    """One read of the broker's list: our statuses recorded, unowned transfers counted, failures halting."""
    state = run.state
    review = await run.broker(
        BrokerActivities.review_transfers,
        ReviewTransfersInput(
            account_id=run.account_id,
            tracked_transfer_ids=[t.transfer_id for t in state.outgoing],
            known_transfer_ids=state.known_transfer_ids(),
        ),
        summary="check transfer status",
    )
    run.observed_broker_time(review.broker_now)
    note_unowned(run, review.unknown)
    apply_statuses(run, review.tracked)
    run.saw_transfers()
    return review


def note_unowned(run: ClosureRun, unknown: list[TransferView]) -> None:
    """Outgoing transfers no chunk owns: those created before the closure began are the customer's own
    business; any other counts as money that left during the closure.

    The first look at the list comes only at the withdrawal, days after the start: a transfer ops sent by hand
    during the liquidation is already there, and must not pass for one that predates the closure.
    """
    state = run.state
    if state.foreign_transfer_ids is None:
        began = _broker_start(state) if workflow.patched(UNOWNED_SINCE_START) else None
        state.foreign_transfer_ids = [t.id for t in unknown if began is None or t.created_at < began]
        unknown = [t for t in unknown if t.id not in state.foreign_transfer_ids]
    for view in unknown:
        state.unowned.append(
            TransferRecord(
                chunk=0,
                chunk_key=f"{workflow.info().workflow_id}:unowned:{view.id}",
                transfer_id=view.id,
                amount=view.amount,
                status=view.status,
                initiated_at=view.created_at,
                updated_at=view.updated_at,
                adopted=True,
                requested_at=workflow.now(),
            )
        )
        run.alert(
            "unowned_transfer",
            f"outgoing transfer {view.id} of {format_usd(view.amount)} ({view.status}, created "
            f"{view.created_at.isoformat()}) belongs to no chunk of this closure; it is counted in what was "
            "withdrawn, in the 24 h window and in what the customer is told",
        )
        run.changed()


def _broker_start(state: ClosureState) -> datetime | None:
    """The broker's clock when the closure began (its first phase change, placed on the broker's clock)."""
    return state.history[0].broker_at if state.history else None


def apply_statuses(run: ClosureRun, views: list[TransferView]) -> None:
    """Record the broker's statuses; a newly failed chunk transfer stops the closure for an operator."""
    by_id = {v.id: v for v in views}
    moved = False
    for record in run.state.outgoing:
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
        raise ClosureHalted.because(
            TransferFailed(
                f"transfer {first.chunk} ({first.transfer_id}, {format_usd(first.amount)}) ended {first.status}"
                + (f": {first.reason}" if first.reason else "")
                + "; the money is back at the broker and will be sent again after an operator retries",
            )
        )


async def _follow_in_flight(run: ClosureRun) -> ClosurePhase:
    """Before the returns watch: follow the transfers until every one is terminal, then close."""
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
