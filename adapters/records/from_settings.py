"""The configured user-records backend: Supabase in production, a SQLite file locally."""

from __future__ import annotations

from adapters.records.sqlite import SqliteRecords
from adapters.records.supabase import SupabaseRecords
from runtime.settings import Settings


def records_from(settings: Settings) -> SqliteRecords | SupabaseRecords:
    if settings.records.backend == "supabase":
        if not settings.records.supabase_url or settings.records.supabase_service_role_key is None:
            raise ValueError("CLOSURE_RECORDS__SUPABASE_URL and ..._SUPABASE_SERVICE_ROLE_KEY are required")
        return SupabaseRecords(
            settings.records.supabase_url, settings.records.supabase_service_role_key.get_secret_value()
        )
    return SqliteRecords(settings.records.sqlite_path)
