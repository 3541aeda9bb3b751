"""The local default: a SQLite file with Supabase's `user_onboarding` table (and the email ledger)."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from adapters.records import AUDIT_TABLE, EMAIL_TABLE, TABLE, Move, UserRecord, settle_move
from closure.email_ledger import EmailClaim
from closure.errors import UserRecordsUnavailable
from closure.operators import AuditEntry

SCHEMA = f"""
CREATE TABLE IF NOT EXISTS {TABLE} (
    user_id TEXT NOT NULL,
    alpaca_account_id TEXT PRIMARY KEY,
    email TEXT,
    first_name TEXT,
    last_name TEXT,
    status TEXT NOT NULL DEFAULT 'active',
    account_closure_initiated_at TEXT,
    account_closed_at TEXT,
    account_closure_needs_attention INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS {TABLE}_user ON {TABLE} (user_id);
CREATE TABLE IF NOT EXISTS {EMAIL_TABLE} (
    message_key TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    status TEXT NOT NULL,
    provider_message_id TEXT,
    claimed_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    sent_at TEXT
);
CREATE TABLE IF NOT EXISTS {AUDIT_TABLE} (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    at TEXT NOT NULL,
    account_id TEXT NOT NULL,
    actor TEXT NOT NULL,
    actor_id TEXT NOT NULL,
    role TEXT NOT NULL,
    via TEXT NOT NULL,
    action TEXT NOT NULL,
    dry_run INTEGER NOT NULL,
    reason TEXT NOT NULL,
    outcome TEXT NOT NULL,
    detail TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS {AUDIT_TABLE}_account ON {AUDIT_TABLE} (account_id, id);
CREATE TRIGGER IF NOT EXISTS {AUDIT_TABLE}_no_update BEFORE UPDATE ON {AUDIT_TABLE}
BEGIN SELECT RAISE(ABORT, '{AUDIT_TABLE} is append-only'); END;
CREATE TRIGGER IF NOT EXISTS {AUDIT_TABLE}_no_delete BEFORE DELETE ON {AUDIT_TABLE}
BEGIN SELECT RAISE(ABORT, '{AUDIT_TABLE} is append-only'); END;
"""


class SqliteRecords:
    """Both UserRecords and EmailLedger. A connection per thread: safe from any activity thread."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._local = threading.local()
        path.parent.mkdir(parents=True, exist_ok=True)
        with self._connect() as db:
            db.executescript(SCHEMA)

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        """This thread's connection, opened on its first call and kept: opening one costs more than a read.
        A connection that failed is closed and the next call opens another."""
        db: sqlite3.Connection | None = getattr(self._local, "db", None)
        if db is None:
            try:
                db = sqlite3.connect(self.path, timeout=10, isolation_level=None)
            except sqlite3.Error as exc:
                raise UserRecordsUnavailable(f"cannot open {self.path}: {exc}") from exc
            db.row_factory = sqlite3.Row
            self._local.db = db
        try:
            yield db
        except sqlite3.OperationalError as exc:
            self._local.db = None
            db.close()
            raise UserRecordsUnavailable(f"{self.path}: {exc}") from exc

    @staticmethod
    def _record(row: sqlite3.Row) -> UserRecord:
        data = dict(row)
        data["account_closure_needs_attention"] = bool(data["account_closure_needs_attention"])
        return UserRecord.model_validate(data)

    def _select(self, where: str, *args: Any) -> list[UserRecord]:
        with self._connect() as db:
            return [self._record(r) for r in db.execute(f"SELECT * FROM {TABLE} WHERE {where}", args)]

    # --- UserRecords ----------------------------------------------------------------------------------------

    def by_account(self, account_id: str) -> UserRecord | None:
        found = self._select("alpaca_account_id = ?", account_id)
        return found[0] if found else None

    def by_user(self, user_id: str) -> list[UserRecord]:
        return self._select("user_id = ?", user_id)

    def with_status(self, status: str) -> list[UserRecord]:
        return self._select("status = ?", status)

    def apply(self, account_id: str, move: Move) -> UserRecord:
        sets = ", ".join(f"{column} = ?" for column in move.changes)
        allowed = ", ".join("?" for _ in move.allowed_from)
        values = [int(v) if isinstance(v, bool) else v for v in move.changes.values()]
        with self._connect() as db:
            cursor = db.execute(
                f"UPDATE {TABLE} SET {sets} WHERE alpaca_account_id = ? AND status IN ({allowed})",
                (*values, account_id, *move.allowed_from),
            )
            changed = cursor.rowcount
        current = self.by_account(account_id)
        if changed:
            assert current is not None
            return current
        return settle_move(account_id, move, current)

    def upsert(self, record: UserRecord) -> UserRecord:
        data = record.model_dump(mode="json")
        data["account_closure_needs_attention"] = int(record.account_closure_needs_attention)
        columns = ", ".join(data)
        marks = ", ".join("?" for _ in data)
        with self._connect() as db:
            db.execute(f"INSERT OR REPLACE INTO {TABLE} ({columns}) VALUES ({marks})", tuple(data.values()))
        return record

    # --- EmailLedger ----------------------------------------------------------------------------------------

    def claim(self, message_key: str, kind: str) -> EmailClaim:
        with self._connect() as db:
            inserted = db.execute(
                f"INSERT OR IGNORE INTO {EMAIL_TABLE} (message_key, kind, status) VALUES (?, ?, 'claimed')",
                (message_key, kind),
            ).rowcount
            row = db.execute(f"SELECT * FROM {EMAIL_TABLE} WHERE message_key = ?", (message_key,)).fetchone()
        return EmailClaim(
            message_key=message_key,
            fresh=bool(inserted),
            status=row["status"],
            provider_message_id=row["provider_message_id"],
        )

    def mark_sent(self, message_key: str, provider_message_id: str) -> None:
        with self._connect() as db:
            db.execute(
                f"UPDATE {EMAIL_TABLE} SET status = 'sent', provider_message_id = ?, "
                "sent_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now') WHERE message_key = ?",
                (provider_message_id, message_key),
            )

    def release(self, message_key: str) -> None:
        with self._connect() as db:
            db.execute(
                f"DELETE FROM {EMAIL_TABLE} WHERE message_key = ? AND status = 'claimed'", (message_key,)
            )

    # --- AuditTrail -----------------------------------------------------------------------------------------

    def append_audit(self, entry: AuditEntry) -> None:
        row = entry.model_dump(mode="json")
        columns = ", ".join(row)
        marks = ", ".join("?" for _ in row)
        with self._connect() as db:
            db.execute(f"INSERT INTO {AUDIT_TABLE} ({columns}) VALUES ({marks})", tuple(row.values()))

    def audit_of(self, account_id: str) -> list[AuditEntry]:
        columns = ", ".join(AuditEntry.model_fields)
        with self._connect() as db:
            rows = db.execute(
                f"SELECT {columns} FROM {AUDIT_TABLE} WHERE account_id = ? ORDER BY id", (account_id,)
            ).fetchall()
        return [AuditEntry.model_validate(dict(row)) for row in rows]
