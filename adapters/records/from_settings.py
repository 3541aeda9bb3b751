"""The configured user-records backend: Supabase in production, a SQLite file locally."""

from __future__ import annotations

from typing import TYPE_CHECKING

from adapters.records.sqlite import SqliteRecords
from runtime.settings import Settings

if TYPE_CHECKING:
    from adapters.records.supabase import SupabaseRecords


def records_from(settings: Settings) -> SqliteRecords | SupabaseRecords:
    if settings.records.backend == "supabase":
        try:  # supabase-py comes with the `supabase` extra
            from adapters.records.supabase import SupabaseRecords
        except ImportError as exc:
            raise ValueError(
                "CLOSURE_RECORDS__BACKEND=supabase needs supabase-py: pip install 'account-closure[supabase]'"
            ) from exc
        if not settings.records.supabase_url or settings.records.supabase_service_role_key is None:
            raise ValueError("CLOSURE_RECORDS__SUPABASE_URL and ..._SUPABASE_SERVICE_ROLE_KEY are required")
        return SupabaseRecords(
            settings.records.supabase_url, settings.records.supabase_service_role_key.get_secret_value()
        )
    return SqliteRecords(settings.records.sqlite_path)
