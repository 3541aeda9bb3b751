"""The customer's side of a closure: the user record's status and the emails, at the moments they happen.

Record moves that invariant 5 depends on (pending_closure, closed) are awaited and stop the closure if they
keep failing; emails run beside it. Message keys are deterministic, so a retry or replay never sends twice.
"""

from __future__ import annotations

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from activities.emails import EmailActivities
    from activities.user_records import AccountAt, AttentionFlag, UserRecordActivities
    from closure.bank_calendar import expected_at_bank
    from closure.broker_types import AccountView
    from closure.email_facts import (
        CompletionFacts,
        CustomerEmail,
        CustomerFacts,
        InitiationFacts,
        TransferFacts,
        TransferLine,
    )
    from closure.estimate import estimate
    from closure.money import ZERO
    from closure.progress import TransferRecord

from workflows.run import ClosureRun


def _email(run: ClosureRun, event: str, facts: CustomerFacts) -> None:
    request = CustomerEmail(
        account_id=run.account_id, message_key=f"{workflow.info().workflow_id}:email:{event}", facts=facts
    )
    run.spawn(_send(run, event, request))


async def _send(run: ClosureRun, event: str, request: CustomerEmail) -> None:
    result = await run.side_effect(
        EmailActivities.send_customer, request, summary=f"email the customer: {event}"
    )
    if result is not None and result.status == "assumed_sent":
        run.alert(
            "email_outcome_unknown",
            f"the {event} email was handed to the mail provider by a worker that died before hearing back; it is "
            "not sent again, so check the provider's delivery log",
        )


def _bank_last4(run: ClosureRun) -> str | None:
    return run.state.relationship.account_last4 if run.state.relationship else None


async def initiated(run: ClosureRun, view: AccountView) -> None:
    if run.state.initiation_notified:
        return
    await run.call(
        UserRecordActivities.mark_pending_closure,
        AccountAt(account_id=run.account_id, at=workflow.now()),
        summary="user record: pending_closure",
    )
    run.state.initiation_notified = True
    facts = InitiationFacts(
        confirmation_number=run.state.confirmation_number,
        cash=view.cash,
        positions=len(view.positions),
        open_orders=view.open_orders,
        bank_last4=_bank_last4(run),
        daily_limit=run.policy.daily_transfer_limit,
        estimate=estimate(view, run.policy, view.clock.now.date()),
    )
    _email(run, "initiation", facts)


def transfer_sent(run: ClosureRun, record: TransferRecord) -> None:
    facts = TransferFacts(
        confirmation_number=run.state.confirmation_number,
        chunk=record.chunk,
        amount=record.amount,
        bank_last4=_bank_last4(run),
        initiated_at=record.initiated_at,
        expected_by=expected_at_bank(record.initiated_at),
        sent_so_far=run.state.amount_sent,
        remaining=max(run.state.last_withdrawable - record.amount, ZERO),
    )
    _email(run, f"transfer:{record.chunk}", facts)


async def completed(run: ClosureRun) -> None:
    closed_at = run.broker_now() or workflow.now()
    await run.call(
        UserRecordActivities.mark_closed,
        AccountAt(account_id=run.account_id, at=workflow.now()),
        summary="user record: closed",
    )
    # What the broker's list (last read just before the close) says left the account, chunks and unowned.
    sent = sorted((t for t in run.state.outgoing if not t.failed), key=lambda t: t.initiated_at)
    facts = CompletionFacts(
        confirmation_number=run.state.confirmation_number,
        total_withdrawn=run.state.amount_completed,
        transfers=[
            TransferLine(chunk=n, amount=t.amount, initiated_at=t.initiated_at, status=t.status)
            for n, t in enumerate(sent, start=1)
        ],
        bank_last4=_bank_last4(run),
        closed_on=closed_at.date(),
    )
    _email(run, "completion", facts)


def attention(run: ClosureRun, needs: bool) -> None:
    if not run.state.initiation_notified:
        return  # no record was moved to pending_closure yet, so there is nothing to flag
    flag = AttentionFlag(account_id=run.account_id, needs_attention=needs)
    run.spawn(
        run.side_effect(UserRecordActivities.set_attention, flag, summary="user record: attention flag")
    )


async def cancelled(run: ClosureRun) -> None:
    if run.state.initiation_notified:
        await run.side_effect(
            UserRecordActivities.reopen, run.account_id, summary="user record: active again"
        )
