"""DESIGN §7: the promises every closure keeps, checked against the broker's ledger and the closure's record.

Used by the end-to-end tests, the demo and (later) the chaos and load runs; each check returns the list of
violations, so a report names every broken promise, not just the first.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from closure.eligibility import AccountStatus
from closure.money import ZERO, parse_money
from closure.phases import TRANSFER_NEVER_SENT, TRANSFER_TERMINAL, ClosurePhase
from closure.progress import ClosureProgress

WINDOW = timedelta(hours=24)


@dataclass(frozen=True)
class LedgerLine:
    kind: str
    amount: Decimal
    status: str
    transfer_id: str | None
    created_at: datetime
    note: str | None = None


def parse_ledger(raw: dict[str, Any]) -> tuple[str, Decimal, list[LedgerLine]]:
    lines = [
        LedgerLine(
            kind=e["kind"],
            amount=parse_money(e["amount"]),
            status=e["status"],
            transfer_id=e.get("transfer_id"),
            created_at=datetime.fromisoformat(e["created_at"].replace("Z", "+00:00")),
            note=e.get("note"),
        )
        for e in raw["entries"]
    ]
    return raw["status"], parse_money(raw["cash"]), lines


def _sum(lines: list[LedgerLine], kind: str, statuses: set[str] | None = None) -> Decimal:
    return sum(
        (ln.amount for ln in lines if ln.kind == kind and (statuses is None or ln.status in statuses)), ZERO
    )


def every_dollar_accounted_for(raw_ledger: dict[str, Any], after_close: Decimal = ZERO) -> list[str]:
    """Σ completed withdrawals = everything that came in (deposits, sales, credits, journals in) minus
    purchases, fees, debits and journals out; final cash 0. `after_close` is money that reached the account
    after it closed, which stays there and must have been reported to ops (§7.7)."""
    _, cash, lines = parse_ledger(raw_ledger)
    came_in = (
        _sum(lines, "deposit", {"COMPLETE"})
        + _sum(lines, "sell")
        + _sum(lines, "credit")
        + _sum(lines, "journal_in")
        - _sum(lines, "buy")
        - _sum(lines, "fee")
        - _sum(lines, "debit")
        - _sum(lines, "journal_out", {"queued", "executed"})
    )
    sent = _sum(lines, "withdrawal", {"COMPLETE"})
    problems = []
    if sent != came_in - after_close:
        problems.append(f"withdrawn {sent} but {came_in} came into the account")
    if cash != after_close:
        problems.append(f"final cash is {cash}, not {after_close}")
    return problems


def daily_limit_respected(raw_ledger: dict[str, Any], limit: Decimal) -> list[str]:
    _, _, lines = parse_ledger(raw_ledger)
    sent = [ln for ln in lines if ln.kind == "withdrawal" and ln.status not in TRANSFER_NEVER_SENT]
    problems = []
    for line in sent:
        window = sum(
            (o.amount for o in sent if line.created_at - WINDOW < o.created_at <= line.created_at), ZERO
        )
        if window > limit:
            problems.append(
                f"{window} initiated in the 24 h ending {line.created_at.isoformat()} (limit {limit})"
            )
    return problems


def no_duplicate_transfers(
    raw_ledger: dict[str, Any], progress: ClosureProgress, predating: frozenset[str] = frozenset()
) -> list[str]:
    """One transfer per chunk key, and no outgoing transfer the closure does not account for: each one
    is a chunk's, or is listed as unowned with an ops alert naming it, or (`predating`) was made before the
    closure began."""
    _, _, lines = parse_ledger(raw_ledger)
    problems = []
    keys = Counter(t.chunk_key for t in progress.transfers)
    problems += [f"chunk {key} has {n} transfers" for key, n in keys.items() if n > 1]
    ours = Counter(t.transfer_id for t in progress.transfers)
    problems += [f"transfer {tid} is claimed by {n} chunks" for tid, n in ours.items() if n > 1]
    unowned = {t.transfer_id for t in progress.unowned_transfers}
    alerted = " ".join(a.message for a in progress.alerts if a.kind == "unowned_transfer")
    problems += [f"unowned transfer {tid} was never alerted" for tid in unowned if tid not in alerted]
    at_broker = {ln.transfer_id for ln in lines if ln.kind == "withdrawal"}
    problems += [
        f"outgoing transfer {tid} at the broker belongs to no chunk and was not reported"
        for tid in at_broker - set(ours) - unowned - predating
    ]
    return problems


def closed_only_when_empty(raw_ledger: dict[str, Any], after_close: Decimal = ZERO) -> list[str]:
    """The broker accepts a close with money left (as Alpaca does) and records it; that must never happen."""
    status, cash, lines = parse_ledger(raw_ledger)
    residual = [
        f"the close call left {ln.note} (cash {ln.amount})"
        for ln in lines
        if ln.kind == "closed_with_residual"
    ]
    if status != AccountStatus.ACCOUNT_CLOSED:
        return residual
    pending = [ln.transfer_id for ln in lines if ln.transfer_id and ln.status not in TRANSFER_TERMINAL]
    problems = residual + [f"closed with transfer {tid} still pending" for tid in pending]
    if cash != after_close:
        problems.append(f"closed with cash {cash}")
    return problems


def records_and_emails_agree(
    broker_status: str,
    record_status: str | None,
    email_keys: list[str],
    outcome_with_ops: frozenset[str] = frozenset(),
) -> list[str]:
    """Invariant 5: the user record says closed exactly when the broker does; one initiation, one completion email.

    `outcome_with_ops` names emails a worker handed to the provider and died before hearing back: they are
    never sent twice, so none may be in the outbox, and ops has an `email_outcome_unknown` alert for each.
    """
    problems = []
    if (broker_status == AccountStatus.ACCOUNT_CLOSED) != (record_status == "closed"):
        problems.append(f"the broker says {broker_status} but the user record says {record_status}")
    events = Counter(key.rsplit(":email:", 1)[-1] for key in email_keys)
    for event in ("initiation", "completion"):
        allowed = {0, 1} if event in outcome_with_ops else {1}
        if broker_status == AccountStatus.ACCOUNT_CLOSED and events[event] not in allowed:
            problems.append(f"{events[event]} {event} email(s), not one")
    return problems


def never_silent(progress: ClosureProgress) -> list[str]:
    if progress.phase == ClosurePhase.COMPLETED:
        return []
    if progress.phase == ClosurePhase.CANCELLED and progress.cancel_reason:
        return []
    if progress.phase == ClosurePhase.NEEDS_ATTENTION and progress.attention and progress.alerts:
        return []
    return [f"closure ended in {progress.phase.value} without completing or an attention reason and alert"]


def check_completed_closure(
    raw_ledger: dict[str, Any],
    progress: ClosureProgress,
    limit: Decimal,
    predating: frozenset[str] = frozenset(),
    after_close: Decimal = ZERO,
) -> list[str]:
    """Every §7 invariant the broker side can show, for a closure that should have completed."""
    problems = never_silent(progress)
    if progress.phase == ClosurePhase.COMPLETED and raw_ledger["status"] != AccountStatus.ACCOUNT_CLOSED:
        problems.append(f"closure completed but the broker says {raw_ledger['status']}")
    return (
        problems
        + every_dollar_accounted_for(raw_ledger, after_close)
        + daily_limit_respected(raw_ledger, limit)
        + no_duplicate_transfers(raw_ledger, progress, predating)
        + closed_only_when_empty(raw_ledger, after_close)
    )


def cancelled_with_nothing_sent(
    raw_ledger: dict[str, Any], progress: ClosureProgress, made_outside: frozenset[str]
) -> list[str]:
    """A cancel is accepted only before money moves: the account stays open and sent nothing of the closure's.

    `made_outside` names the outgoing transfers the customer or ops made themselves, before or during the
    closure; one cancelled before its first look at the list never saw them.
    """
    status, _, lines = parse_ledger(raw_ledger)
    problems = []
    if status == AccountStatus.ACCOUNT_CLOSED:
        problems.append("the closure was cancelled but the broker closed the account")
    if progress.transfers:
        problems.append(f"the closure was cancelled after sending {len(progress.transfers)} transfer(s)")
    known = made_outside | {t.transfer_id for t in progress.unowned_transfers}
    problems += [
        f"outgoing transfer {ln.transfer_id} was made by a cancelled closure"
        for ln in lines
        if ln.kind == "withdrawal" and ln.transfer_id not in known
    ]
    return problems


def check_closure_outcome(
    raw_ledger: dict[str, Any],
    progress: ClosureProgress,
    limit: Decimal,
    predating: frozenset[str] = frozenset(),
    by_hand: frozenset[str] = frozenset(),
    after_close: Decimal = ZERO,
) -> list[str]:
    """A completed closure keeps every promise; one parked with ops keeps the money promises mid-way; a
    cancelled one sent nothing. `predating` and `by_hand` name the outgoing transfers the customer made before
    the closure and ops made by hand during it."""
    if progress.phase == ClosurePhase.COMPLETED:
        return check_completed_closure(raw_ledger, progress, limit, predating, after_close)
    if progress.phase == ClosurePhase.CANCELLED:
        return never_silent(progress) + cancelled_with_nothing_sent(raw_ledger, progress, predating | by_hand)
    return (
        never_silent(progress)
        + daily_limit_respected(raw_ledger, limit)
        + no_duplicate_transfers(raw_ledger, progress, predating)
        + closed_only_when_empty(raw_ledger)
    )


def emails_with_ops(progress: ClosureProgress) -> frozenset[str]:
    """The customer emails whose delivery is left to ops to check (see `records_and_emails_agree`)."""
    return frozenset(
        event
        for alert in progress.alerts
        if alert.kind == "email_outcome_unknown"
        for event in ("initiation", "completion")
        if f"the {event} email" in alert.message
    )
