"""The sent-email ledger, as the email senders need it; the user-records backends keep it."""

from __future__ import annotations

from typing import Protocol

from pydantic import BaseModel


class EmailClaim(BaseModel):
    message_key: str
    fresh: bool
    status: str
    provider_message_id: str | None = None


class EmailLedger(Protocol):
    """One row per message key: the first claim wins, so an email is sent at most once per key."""

    def claim(self, message_key: str, kind: str) -> EmailClaim: ...

    def mark_sent(self, message_key: str, provider_message_id: str) -> None: ...

    def release(self, message_key: str) -> None: ...
