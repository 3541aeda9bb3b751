"""Delivering an email exactly once per message key: an outbox folder (local default) or AWS SES.

The ledger is claimed before delivery, so a retried activity or a second worker never sends the same key
twice. If delivery fails for certain (the request never reached the provider, or was refused) the claim is
released and a retry sends it. If the worker dies, or the answer is lost, while the provider holds the
request, the outcome is unknown: the claim stays, a retry reports `assumed_sent` instead of risking a second
copy, and the workflow tells ops.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from pathlib import Path
from typing import Protocol

from closure.email_facts import SendResult
from closure.email_ledger import EmailLedger
from closure.errors import EmailRejected, EmailUndelivered


@dataclass(frozen=True)
class OutgoingEmail:
    message_key: str
    kind: str
    sender: str
    to: tuple[str, ...]
    subject: str
    html: str
    text: str

    def mime(self) -> EmailMessage:
        message = EmailMessage()
        message["From"], message["To"], message["Subject"] = self.sender, ", ".join(self.to), self.subject
        message["Date"] = formatdate(localtime=False)
        message["Message-ID"] = make_msgid(domain="closures.local")
        message["X-Closure-Message-Key"] = self.message_key
        message.set_content(self.text)
        message.add_alternative(self.html, subtype="html")
        return message


class EmailBackend(Protocol):
    def deliver(self, email: OutgoingEmail) -> str:
        """Hand the email over; return the provider's message id."""
        ...


def slug(message_key: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", message_key)


class OutboxBackend:
    """Writes `<key>.html`, `.txt`, `.eml` and `.json` into a folder, each atomically."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def deliver(self, email: OutgoingEmail) -> str:
        self.folder.mkdir(parents=True, exist_ok=True)
        name = slug(email.message_key)
        meta = {
            "message_key": email.message_key,
            "kind": email.kind,
            "to": list(email.to),
            "subject": email.subject,
        }
        parts = {
            ".html": email.html,
            ".txt": email.text,
            ".eml": email.mime().as_string(),
            ".json": json.dumps(meta, indent=2),
        }
        for suffix, content in parts.items():
            temporary = self.folder / f".{name}{suffix}.tmp"
            temporary.write_text(content, encoding="utf-8")
            os.replace(temporary, self.folder / f"{name}{suffix}")
        return f"outbox:{name}"


class EmailDispatcher:
    def __init__(self, ledger: EmailLedger, backend: EmailBackend) -> None:
        self._ledger = ledger
        self._backend = backend

    def send(self, email: OutgoingEmail) -> SendResult:
        claim = self._ledger.claim(email.message_key, email.kind)
        if not claim.fresh:
            status = "duplicate" if claim.status == "sent" else "assumed_sent"
            return SendResult(
                message_key=email.message_key, status=status, provider_message_id=claim.provider_message_id
            )
        try:
            provider_id = self._backend.deliver(email)
        except (EmailUndelivered, EmailRejected):
            self._ledger.release(email.message_key)
            raise
        self._ledger.mark_sent(email.message_key, provider_id)
        return SendResult(message_key=email.message_key, status="sent", provider_message_id=provider_id)
