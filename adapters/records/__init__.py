"""User records (Supabase's `user_onboarding`) and the sent-email ledger, behind one small interface.

Production uses supabase-py with the service-role key; the local default is a SQLite file with the same
table. Status moves `active → pending_closure → closed` (or back to `active` when a closure is cancelled);
every move is a conditional update, so two workers racing can never move a record backwards.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Protocol

from pydantic import BaseModel

from closure.errors import UserRecordConflict, UserRecordNotFound
from closure.operators import AuditEntry

ACTIVE, PENDING_CLOSURE, CLOSED = "active", "pending_closure", "closed"
TABLE = "user_onboarding"
EMAIL_TABLE = "closure_emails"
AUDIT_TABLE = "closure_audit"  # append-only: rows are inserted and read, never changed or deleted


class UserRecord(BaseModel):
    user_id: str
    alpaca_account_id: str
    email: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    status: str = ACTIVE
    account_closure_initiated_at: datetime | None = None
    account_closed_at: datetime | None = None
    account_closure_needs_attention: bool = False


class Move(BaseModel):
    """One status move: allowed starting statuses, the columns it sets, and the status that means done."""

    allowed_from: tuple[str, ...]
    changes: dict[str, Any]
    done_when: str | None = None


def pending_closure(at: datetime) -> Move:
    return Move(
        allowed_from=(ACTIVE,),
        changes={"status": PENDING_CLOSURE, "account_closure_initiated_at": at.isoformat()},
        done_when=PENDING_CLOSURE,
    )


def closed(at: datetime) -> Move:
    return Move(
        allowed_from=(PENDING_CLOSURE,),
        changes={
            "status": CLOSED,
            "account_closed_at": at.isoformat(),
            "account_closure_needs_attention": False,
        },
        done_when=CLOSED,
    )


def reopened() -> Move:
    return Move(
        allowed_from=(PENDING_CLOSURE,),
        changes={
            "status": ACTIVE,
            "account_closure_initiated_at": None,
            "account_closure_needs_attention": False,
        },
        done_when=ACTIVE,
    )


def attention(needs: bool) -> Move:
    return Move(allowed_from=(PENDING_CLOSURE,), changes={"account_closure_needs_attention": needs})


class UserRecords(Protocol):
    def by_account(self, account_id: str) -> UserRecord | None: ...

    def by_user(self, user_id: str) -> list[UserRecord]: ...

    def with_status(self, status: str) -> list[UserRecord]: ...

    def apply(self, account_id: str, move: Move) -> UserRecord: ...

    def upsert(self, record: UserRecord) -> UserRecord: ...


class AuditTrail(Protocol):
    def append_audit(self, entry: AuditEntry) -> None: ...

    def audit_of(self, account_id: str) -> list[AuditEntry]:
        """The account's entries, oldest first."""
        ...


class ClosureRecords(UserRecords, AuditTrail, Protocol):
    """Everything beside the user records the operators' tools read and write."""


def settle_move(account_id: str, move: Move, current: UserRecord | None) -> UserRecord:
    """After a conditional update matched nothing: already done, missing, or a real conflict."""
    if current is None:
        raise UserRecordNotFound(f"no {TABLE} row for Alpaca account {account_id}")
    if move.done_when is not None and current.status == move.done_when:
        return current
    raise UserRecordConflict(
        f"{TABLE} for account {account_id} is {current.status!r}; cannot set {move.changes} "
        f"(allowed from {', '.join(move.allowed_from)})"
    )
