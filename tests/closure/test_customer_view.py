"""The status page's view of a closure: the customer's words, the steps, and when the money should arrive."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal

from closure.bank_calendar import expected_at_bank
from closure.customer_view import StepState, customer_status
from closure.phases import ClosurePhase
from closure.progress import Attention, BrokerClockAnchor, ClosureProgress, TransferRecord
from tests.support import ny


def _progress(phase: ClosurePhase, **fields: object) -> ClosureProgress:
    base: dict[str, object] = {
        "account_id": "acct-1",
        "workflow_id": "account-closure-acct-1",
        "confirmation_number": "CLA-AAAAA-BBBBB",
        "phase": phase,
        "legacy_status": phase.legacy_status,
        "step": "",
        "percent": 0,
        "needs_attention": phase == ClosurePhase.NEEDS_ATTENTION,
        "attention": None,
        "cash_at_start": Decimal("120000.00"),
        "amount_withdrawn": Decimal("0"),
        "amount_completed": Decimal("0"),
        "amount_remaining": Decimal("0"),
        "transfers": [],
        "next_action_at": None,
        "started_at": ny(2026, 12, 21, 10),
        "completed_at": None,
        "history": [],
        "alerts": [],
        "bank_last4": "6789",
    }
    return ClosureProgress.model_validate({**base, **fields})


def _sent(chunk: int, at: datetime, status: str = "QUEUED", reason: str | None = None) -> TransferRecord:
    return TransferRecord(
        chunk=chunk,
        chunk_key=f"k{chunk}",
        transfer_id=f"tr-{chunk}",
        amount=Decimal("50000.00"),
        status=status,
        initiated_at=at,
        reason=reason,
    )


def test_a_transfer_sent_before_christmas_is_expected_after_the_holiday_and_the_weekend() -> None:
    # Wednesday 23 December 2026 after the 2 PM cut-off: it starts moving on Thursday 24; Friday 25 is a
    # holiday, then the weekend, so three bank days on are Monday 28, Tuesday 29 and Wednesday 30.
    assert expected_at_bank(ny(2026, 12, 23, 15)) == date(2026, 12, 30)
    assert expected_at_bank(ny(2026, 12, 23, 10)) == date(2026, 12, 29)  # before the cut-off: a day sooner


def test_while_sending_the_bar_the_steps_and_the_estimate_follow_the_money() -> None:
    first = _sent(1, ny(2026, 12, 21, 10))
    progress = _progress(
        ClosurePhase.WITHDRAWAL_24HR_WAIT,
        amount_withdrawn=Decimal("50000.00"),
        amount_remaining=Decimal("70000.00"),
        transfers=[first],
        next_action_at=ny(2026, 12, 22, 10),
    )
    view = customer_status(progress, now=ny(2026, 12, 21, 12))

    assert view.state == "in_progress"
    assert [(s.key, s.state) for s in view.steps] == [
        ("selling", StepState.DONE),
        ("settling", StepState.DONE),
        ("sending", StepState.CURRENT),
        ("closing", StepState.UPCOMING),
        ("closed", StepState.UPCOMING),
    ]
    assert view.total == Decimal("120000.00")
    assert view.percent_sent == 41
    assert view.transfers[0].status_words == "Requested: being prepared for your bank"
    assert view.transfers[0].expected_by == date(2026, 12, 24)
    assert view.next_action is not None
    assert view.next_action.what == "We send the next transfer of up to $50,000.00"
    # Two more chunks, from Tuesday 22 at 10:00: the last goes on Wednesday 23 before the cut-off and lands
    # three bank days on, past Christmas and the weekend: Tuesday 29.
    assert view.expected_done_by == date(2026, 12, 29)
    assert "ending 6789" in view.headline


def test_a_paused_closure_says_why_in_words_and_what_the_customer_can_do() -> None:
    failed = _sent(1, ny(2026, 12, 21, 10), status="REJECTED", reason="R02 account closed")
    progress = _progress(
        ClosurePhase.NEEDS_ATTENTION,
        attention=Attention(
            reason="transfer tr-1 REJECTED: R02 account closed",
            error_type="TransferFailed",
            resume_phase=ClosurePhase.WITHDRAWAL,
            since=ny(2026, 12, 21, 11),
        ),
        transfers=[failed],
        amount_remaining=Decimal("50000.00"),
    )
    view = customer_status(progress, now=ny(2026, 12, 21, 12))

    assert view.state == "paused"
    assert view.steps[2].state == StepState.CURRENT
    assert view.help is not None
    assert view.help.explanation.startswith("A transfer to your bank did not go through.")
    assert "CLA-AAAAA-BBBBB" in view.help.what_you_can_do
    assert "tr-1" not in view.help.explanation, "the operator's reason stays with operators"
    [transfer] = view.transfers
    assert transfer.tone == "failed"
    assert transfer.problem == "the bank account is closed"
    assert transfer.expected_by is None
    assert view.next_action is not None
    assert view.next_action.at is None


def test_a_closed_closure_shows_every_step_done_and_nothing_next() -> None:
    done = ny(2026, 12, 28, 16)
    progress = _progress(
        ClosurePhase.COMPLETED,
        amount_withdrawn=Decimal("120000.00"),
        amount_completed=Decimal("120000.00"),
        transfers=[_sent(1, done - timedelta(days=3), status="COMPLETE")],
        completed_at=done,
    )
    view = customer_status(progress, now=done)

    assert view.state == "closed"
    assert all(s.state == StepState.DONE for s in view.steps)
    assert view.percent_sent == 100
    assert view.next_action is None
    assert view.expected_done_by == date(2026, 12, 28)
    assert view.transfers[0].tone == "sent"


def test_before_the_sales_settle_the_total_is_not_guessed() -> None:
    view = customer_status(_progress(ClosurePhase.LIQUIDATION), now=ny(2026, 12, 21, 10))
    assert view.total is None
    assert view.expected_done_by is None
    assert view.steps[0].state == StepState.CURRENT


def test_on_a_faster_broker_clock_every_moment_is_shown_on_the_brokers() -> None:
    # A simulation: the broker's clock runs 3,600 times faster than the workflow's, which stands in 2026.
    seen = BrokerClockAnchor(broker_at=ny(2025, 4, 15, 10), workflow_at=ny(2026, 12, 4, 12), rate=3600.0)
    progress = _progress(
        ClosurePhase.WITHDRAWAL_24HR_WAIT,
        amount_withdrawn=Decimal("50000.00"),
        amount_remaining=Decimal("20000.00"),
        transfers=[_sent(1, ny(2025, 4, 15, 10))],
        next_action_at=ny(2026, 12, 4, 12) + timedelta(seconds=24),  # 24 h on the broker's clock
        broker_clock=seen,
    )
    view = customer_status(progress, now=ny(2026, 12, 4, 12))
    assert view.next_action is not None
    assert view.next_action.at == ny(2025, 4, 16, 10)
    assert view.expected_done_by == date(2025, 4, 21)  # sent Wednesday 16 before the cut-off: by Monday 21
