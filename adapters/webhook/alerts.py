"""Deliver an ops alert to the configured webhook: a few tries, then a line in the dead-letter log.

An alert must never hold a closure up or fail it, so delivery never raises: it reports what happened. Each
body carries the alert's key (`Idempotency-Key`), so a receiver can drop the copy a retried activity sends.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

import httpx
from pydantic import BaseModel

from closure.email_facts import OpsEmail

RETRYABLE = frozenset({408, 425, 429, 500, 502, 503, 504})
REQUEST_TIMEOUT = 3.0  # seconds: with the pauses, every try fits inside the activity's 20 s


class WebhookDelivery(BaseModel):
    message_key: str
    status: Literal["delivered", "dead_lettered", "disabled"]
    attempts: int = 0
    detail: str = ""


class WebhookAlerts:
    def __init__(
        self,
        url: str | None,
        body_format: Literal["slack", "json"],
        secret: str | None,
        attempts: int,
        dead_letter: Path,
        pause: float = 0.5,
    ) -> None:
        self._url, self._format, self._secret = url, body_format, secret
        self._attempts, self._dead_letter, self._pause = attempts, dead_letter, pause

    def deliver(self, alert: OpsEmail) -> WebhookDelivery:
        if not self._url:
            return WebhookDelivery(message_key=alert.message_key, status="disabled")
        body = json.dumps(self._body(alert), separators=(",", ":")).encode()
        why, attempt = "", 0
        for attempt in range(1, self._attempts + 1):
            refused = self._post(body, alert.message_key)
            if refused is None:
                return WebhookDelivery(message_key=alert.message_key, status="delivered", attempts=attempt)
            why, retryable = refused
            if not retryable:
                break  # a refusal another try cannot change (a 400, a 404, a revoked Slack hook)
            if attempt < self._attempts:
                time.sleep(self._pause * 2 ** (attempt - 1))
        self._bury(alert, body, why)
        return WebhookDelivery(
            message_key=alert.message_key, status="dead_lettered", attempts=attempt, detail=why
        )

    def _post(self, body: bytes, key: str) -> tuple[str, bool] | None:
        """None when delivered, else why not and whether another try could do better."""
        headers = {"Content-Type": "application/json", "Idempotency-Key": key, **self._signature(body)}
        try:
            answer = httpx.post(str(self._url), content=body, headers=headers, timeout=REQUEST_TIMEOUT)
        except httpx.HTTPError as exc:
            return f"{type(exc).__name__}: {exc}", True
        if answer.is_success:
            return None
        return f"HTTP {answer.status_code}", answer.status_code in RETRYABLE

    def _signature(self, body: bytes) -> dict[str, str]:
        if self._format != "json" or not self._secret:
            return {}
        stamp = str(int(time.time()))
        digest = hmac.new(self._secret.encode(), f"{stamp}.".encode() + body, hashlib.sha256).hexdigest()
        return {"X-Closure-Signature": f"t={stamp},v1={digest}"}

    def _body(self, alert: OpsEmail) -> dict[str, Any]:
        facts = alert.facts
        if self._format == "json":
            return {
                "type": "closure.ops_alert",
                "id": alert.message_key,
                "alert": facts.model_dump(mode="json"),
            }
        headline = f"[closure {facts.alert}] {facts.account_id}: {facts.phase}"
        lines = [
            f"*{headline}*",
            facts.reason,
            f"confirmation {facts.confirmation_number}, workflow {facts.workflow_id}",
        ]
        lines += [f"• {step}" for step in facts.what_to_do]
        return {
            "text": headline,
            "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": "\n".join(lines)}}],
        }

    def _bury(self, alert: OpsEmail, body: bytes, why: str) -> None:
        self._dead_letter.parent.mkdir(parents=True, exist_ok=True)
        entry = {
            "at": datetime.now(UTC).isoformat(),
            "message_key": alert.message_key,
            "endpoint": urlsplit(str(self._url)).netloc,  # not the path: Slack's carries the secret
            "why": why,
            "body": json.loads(body),
        }
        with self._dead_letter.open("a") as log:
            log.write(json.dumps(entry) + "\n")
