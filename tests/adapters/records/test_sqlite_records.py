"""The local default store: user_onboarding moves active → pending_closure → closed, never backwards."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime
from pathlib import Path

import pytest

from adapters.records import UserRecord, attention, closed, pending_closure, reopened
from adapters.records.sqlite import SqliteRecords
from closure.errors import UserRecordConflict, UserRecordNotFound
from closure.operators import Actor, AuditEntry, AuditOutcome, OperatorRole

AT = datetime(2025, 1, 6, 15, 0, tzinfo=UTC)


@pytest.fixture
def records(tmp_path: Path) -> SqliteRecords:
    store = SqliteRecords(tmp_path / "users.db")
    store.upsert(
        UserRecord(user_id="u-1", alpaca_account_id="acct-1", email="jo@example.com", first_name="Jo")
    )
    return store


def test_active_to_pending_closure_to_closed(records: SqliteRecords) -> None:
    assert records.apply("acct-1", pending_closure(AT)).status == "pending_closure"
    # a retried initiation keeps the first timestamp
    again = records.apply("acct-1", pending_closure(datetime(2025, 1, 7, tzinfo=UTC)))
    assert again.account_closure_initiated_at == AT
    assert records.apply("acct-1", attention(True)).account_closure_needs_attention
    done = records.apply("acct-1", closed(datetime(2025, 1, 8, 21, 0, tzinfo=UTC)))
    assert (done.status, done.account_closure_needs_attention) == ("closed", False)
    assert records.apply("acct-1", closed(datetime(2025, 1, 9, tzinfo=UTC))).account_closed_at == datetime(
        2025, 1, 8, 21, 0, tzinfo=UTC
    )
    assert [r.alpaca_account_id for r in records.with_status("closed")] == ["acct-1"]


def test_moves_never_go_backwards(records: SqliteRecords) -> None:
    with pytest.raises(UserRecordConflict):
        records.apply("acct-1", closed(AT))  # an active account cannot jump to closed
    records.apply("acct-1", pending_closure(AT))
    records.apply("acct-1", closed(AT))
    with pytest.raises(UserRecordConflict):
        records.apply("acct-1", pending_closure(AT))
    with pytest.raises(UserRecordConflict):
        records.apply("acct-1", reopened())


def test_a_cancelled_closure_reopens_the_record(records: SqliteRecords) -> None:
    records.apply("acct-1", pending_closure(AT))
    back = records.apply("acct-1", reopened())
    assert (back.status, back.account_closure_initiated_at) == ("active", None)


def test_unknown_accounts_are_a_clear_error(records: SqliteRecords) -> None:
    with pytest.raises(UserRecordNotFound, match="acct-404"):
        records.apply("acct-404", pending_closure(AT))


def test_the_email_ledger_lets_one_claim_win(records: SqliteRecords) -> None:
    first = records.claim("wf:email:initiation", "initiation")
    second = records.claim("wf:email:initiation", "initiation")
    assert (first.fresh, second.fresh) == (True, False)
    records.mark_sent("wf:email:initiation", "msg-1")
    assert records.claim("wf:email:initiation", "initiation").provider_message_id == "msg-1"
    records.claim("wf:email:transfer:1", "transfer_sent")
    records.release("wf:email:transfer:1")  # a definite send failure frees the key for the retry
    assert records.claim("wf:email:transfer:1", "transfer_sent").fresh


def _entry(n: int, account_id: str = "acct-1") -> AuditEntry:
    otto = Actor(name="otto@firm.example", subject="cli:otto", role=OperatorRole.OPERATOR, via="cli")
    return AuditEntry.of(AT, account_id, otto, "retry", False, f"note {n}", AuditOutcome.DONE, "retried")


def test_the_audit_trail_is_append_only(records: SqliteRecords) -> None:
    for n in range(3):
        records.append_audit(_entry(n))
    records.append_audit(_entry(9, account_id="acct-2"))
    assert [e.reason for e in records.audit_of("acct-1")] == ["note 0", "note 1", "note 2"]
    with sqlite3.connect(records.path) as db:
        for statement in ("UPDATE closure_audit SET actor = 'someone else'", "DELETE FROM closure_audit"):
            with pytest.raises(sqlite3.IntegrityError, match="append-only"):
                db.execute(statement)
    assert len(records.audit_of("acct-1")) == 3
