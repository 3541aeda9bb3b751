"""Production: supabase-py with the service-role key, on the same `user_onboarding` table.

Every call is one PostgREST request; a status move is a PATCH filtered on the account and the allowed
starting statuses, so it is atomic at the database.
"""

from __future__ import annotations

from typing import Any

import httpx
from postgrest.exceptions import APIError
from supabase import Client, create_client

from adapters.records import AUDIT_TABLE, EMAIL_TABLE, TABLE, Move, UserRecord, settle_move
from closure.email_ledger import EmailClaim
from closure.errors import UserRecordsUnavailable
from closure.operators import AuditEntry

UNIQUE_VIOLATION = "23505"


def _rows(response: Any) -> list[dict[str, Any]]:
    data = response.data
    return list(data) if isinstance(data, list) else []


class SupabaseRecords:
    def __init__(self, url: str, service_role_key: str, client: Client | None = None) -> None:
        self._client = client or create_client(url, service_role_key)

    def _run(self, what: str, query: Any) -> list[dict[str, Any]]:
        try:
            return _rows(query.execute())
        except httpx.HTTPError as exc:
            raise UserRecordsUnavailable(f"{what}: Supabase unreachable ({type(exc).__name__})") from exc
        except APIError as exc:
            if str(exc.code or "").startswith(("5", "PGRST0")):
                raise UserRecordsUnavailable(f"{what}: Supabase answered {exc.code}: {exc.message}") from exc
            raise

    # --- UserRecords ----------------------------------------------------------------------------------------

    def by_account(self, account_id: str) -> UserRecord | None:
        rows = self._run(
            "read user record",
            self._client.table(TABLE).select("*").eq("alpaca_account_id", account_id).limit(1),
        )
        return UserRecord.model_validate(rows[0]) if rows else None

    def by_user(self, user_id: str) -> list[UserRecord]:
        rows = self._run("read user records", self._client.table(TABLE).select("*").eq("user_id", user_id))
        return [UserRecord.model_validate(r) for r in rows]

    def with_status(self, status: str) -> list[UserRecord]:
        rows = self._run("list user records", self._client.table(TABLE).select("*").eq("status", status))
        return [UserRecord.model_validate(r) for r in rows]

    def apply(self, account_id: str, move: Move) -> UserRecord:
        query = (
            self._client.table(TABLE)
            .update(move.changes)
            .eq("alpaca_account_id", account_id)
            .in_("status", list(move.allowed_from))
        )
        rows = self._run(f"update user record ({move.changes.get('status', 'attention')})", query)
        if rows:
            return UserRecord.model_validate(rows[0])
        return settle_move(account_id, move, self.by_account(account_id))

    def upsert(self, record: UserRecord) -> UserRecord:
        rows = self._run(
            "write user record",
            self._client.table(TABLE).upsert(record.model_dump(mode="json"), on_conflict="alpaca_account_id"),
        )
        return UserRecord.model_validate(rows[0]) if rows else record

    # --- EmailLedger ----------------------------------------------------------------------------------------

    def claim(self, message_key: str, kind: str) -> EmailClaim:
        row = {"message_key": message_key, "kind": kind, "status": "claimed"}
        try:
            self._run("claim email", self._client.table(EMAIL_TABLE).insert(row))
            return EmailClaim(message_key=message_key, fresh=True, status="claimed")
        except APIError as exc:
            if exc.code != UNIQUE_VIOLATION:
                raise
        rows = self._run(
            "read email claim", self._client.table(EMAIL_TABLE).select("*").eq("message_key", message_key)
        )
        existing = rows[0] if rows else {"status": "claimed"}
        return EmailClaim(
            message_key=message_key,
            fresh=False,
            status=str(existing["status"]),
            provider_message_id=existing.get("provider_message_id"),
        )

    def mark_sent(self, message_key: str, provider_message_id: str) -> None:
        self._run(
            "mark email sent",
            self._client.table(EMAIL_TABLE)
            .update({"status": "sent", "provider_message_id": provider_message_id})
            .eq("message_key", message_key),
        )

    def release(self, message_key: str) -> None:
        self._run(
            "release email claim",
            self._client.table(EMAIL_TABLE).delete().eq("message_key", message_key).eq("status", "claimed"),
        )

    # --- AuditTrail -----------------------------------------------------------------------------------------

    def append_audit(self, entry: AuditEntry) -> None:
        self._run("append audit entry", self._client.table(AUDIT_TABLE).insert(entry.model_dump(mode="json")))

    def audit_of(self, account_id: str) -> list[AuditEntry]:
        rows = self._run(
            "read audit trail",
            self._client.table(AUDIT_TABLE).select("*").eq("account_id", account_id).order("id"),
        )
        return [AuditEntry.model_validate(row) for row in rows]
