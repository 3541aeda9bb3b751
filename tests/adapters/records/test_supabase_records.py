"""The supabase-py adapter sends exactly the requests PostgREST expects."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from adapters.records import closed, pending_closure
from adapters.records.supabase import SupabaseRecords
from closure.errors import UserRecordConflict
from closure.operators import Actor, AuditEntry, AuditOutcome, OperatorRole
from tests.adapters.records.fake_postgrest import FakePostgrest

KEY = "service-role-key-for-tests"
ACCOUNT = "7224a492-b825-4000-acba-d3bd4783d03b"
ROW = {"user_id": "u-1", "alpaca_account_id": ACCOUNT, "email": "jo@example.com", "status": "active"}


@pytest.fixture
def postgrest() -> Iterator[tuple[FakePostgrest, SupabaseRecords]]:
    fake = FakePostgrest()
    url, server, thread = fake.serve()
    yield fake, SupabaseRecords(url, KEY)
    server.should_exit = True
    thread.join(timeout=5)


def _auth_headers_ok(headers: dict[str, str]) -> bool:
    return headers["apikey"] == KEY and headers["authorization"] == f"Bearer {KEY}"


def test_pending_closure_is_a_conditional_patch(postgrest: tuple[FakePostgrest, SupabaseRecords]) -> None:
    fake, records = postgrest
    at = datetime(2025, 1, 6, 15, 0, tzinfo=UTC)
    fake.answer(200, [{**ROW, "status": "pending_closure", "account_closure_initiated_at": at.isoformat()}])
    record = records.apply(ACCOUNT, pending_closure(at))

    assert record.status == "pending_closure"
    [patch] = fake.seen
    assert (patch.method, patch.path) == ("PATCH", "/rest/v1/user_onboarding")
    assert patch.query == [("alpaca_account_id", f"eq.{ACCOUNT}"), ("status", "in.(active)")]
    assert patch.body == {
        "status": "pending_closure",
        "account_closure_initiated_at": "2025-01-06T15:00:00+00:00",
    }
    assert _auth_headers_ok(patch.headers)
    assert "return=representation" in patch.headers["prefer"]


def test_a_move_that_matches_nothing_reads_the_row_to_explain(
    postgrest: tuple[FakePostgrest, SupabaseRecords],
) -> None:
    fake, records = postgrest
    fake.answer(200, [])  # the PATCH matched no row in an allowed status
    fake.answer(200, [ROW])  # the row is still active
    with pytest.raises(UserRecordConflict, match="'active'"):
        records.apply(ACCOUNT, closed(datetime(2025, 1, 8, 21, 0, tzinfo=UTC)))

    patch, read = fake.seen
    assert patch.query[-1] == ("status", "in.(pending_closure)")
    assert patch.body["status"] == "closed"
    assert patch.body["account_closure_needs_attention"] is False
    assert (read.method, read.path) == ("GET", "/rest/v1/user_onboarding")
    assert read.query == [("select", "*"), ("alpaca_account_id", f"eq.{ACCOUNT}"), ("limit", "1")]
    assert _auth_headers_ok(read.headers)


def test_the_email_ledger_claims_with_an_insert_and_reads_back_on_conflict(
    postgrest: tuple[FakePostgrest, SupabaseRecords],
) -> None:
    fake, records = postgrest
    fake.answer(201, [{"message_key": "k1", "kind": "initiation", "status": "claimed"}])
    assert records.claim("k1", "initiation").fresh

    fake.answer(
        409,
        {
            "code": "23505",
            "message": "duplicate key value violates unique constraint",
            "details": None,
            "hint": None,
        },
    )
    fake.answer(
        200, [{"message_key": "k1", "kind": "initiation", "status": "sent", "provider_message_id": "ses-1"}]
    )
    again = records.claim("k1", "initiation")
    assert (again.fresh, again.status, again.provider_message_id) == (False, "sent", "ses-1")

    insert, conflict, read = fake.seen
    assert (insert.method, insert.path, insert.body) == (
        "POST",
        "/rest/v1/closure_emails",
        {"message_key": "k1", "kind": "initiation", "status": "claimed"},
    )
    assert conflict.body == insert.body
    assert read.query == [("select", "*"), ("message_key", "eq.k1")]


def test_the_audit_trail_is_an_insert_and_an_ordered_read(
    postgrest: tuple[FakePostgrest, SupabaseRecords],
) -> None:
    fake, records = postgrest
    at = datetime(2025, 1, 6, 15, 0, tzinfo=UTC)
    vera = Actor(name="vera@firm.example", subject="user-vera", role=OperatorRole.OPERATOR, via="api")
    entry = AuditEntry.of(at, ACCOUNT, vera, "cancel", False, "asked", AuditOutcome.DONE, "cancelled")
    fake.answer(201, [])
    records.append_audit(entry)
    fake.answer(200, [{"id": 7, **entry.model_dump(mode="json")}])
    assert records.audit_of(ACCOUNT) == [entry]

    insert, read = fake.seen
    assert (insert.method, insert.path) == ("POST", "/rest/v1/closure_audit")
    assert insert.body["actor"] == "vera@firm.example"
    assert insert.body["reason"] == "asked"
    assert (read.method, read.path) == ("GET", "/rest/v1/closure_audit")
    assert ("account_id", f"eq.{ACCOUNT}") in read.query
    assert ("order", "id") in read.query or ("order", "id.asc") in read.query
