"""Structured JSON logs that carry the closure's context and never carry personal data or secrets.

Every record becomes one JSON line with the closure id (workflow id), account id and phase when known.
Money amounts stay readable; emails, long digit runs (bank and routing numbers), credentials, and any value
registered as sensitive (secrets from settings, names and addresses read from user records) are masked,
in the message and in every field.
"""

from __future__ import annotations

import json
import logging
import re
import threading
from collections import OrderedDict
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, SecretStr
from temporalio import activity, workflow

from closure.search_attributes import CLOSURE_PHASE
from runtime.settings import Settings

MASK = "[redacted]"
SENSITIVE_FIELDS = frozenset(
    {
        "email", "email_address", "first_name", "last_name", "given_name", "family_name", "account_owner_name",
        "bank_account_number", "bank_routing_number", "tax_id", "phone_number", "authorization", "api_key",
        "secret_key", "password", "token", "access_token",
    }
)  # fmt: skip
_PATTERNS = [
    re.compile(r"[\w.+-]+@[\w-]+(\.[\w-]+)+"),  # email addresses
    re.compile(r"\b(Bearer|Basic)\s+[A-Za-z0-9._~+/=-]+", re.IGNORECASE),  # credentials in headers
    re.compile(r"\beyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*"),  # JWTs
    # Bank, routing, tax and phone numbers, even before a comma or a full stop; not amounts (1234567.89).
    re.compile(r"(?<![\d.,$])\d{7,}(?!\d|[.,]\d)"),
]
# Account, closure and transfer ids are UUIDs, whose groups can be all digits: they are kept whole, or a log
# search for an account would miss the lines that name it.
_UUID = re.compile(r"\b[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\b")
_STANDARD = set(logging.LogRecord("", 0, "", 0, "", (), None).__dict__) | {"message", "asctime"}


class Redactor:
    """Masks patterns and remembered values; remembered values are kept in a bounded, thread-safe set."""

    def __init__(self, capacity: int = 10_000) -> None:
        self._values: OrderedDict[str, None] = OrderedDict()
        self._lock = threading.Lock()
        self._capacity = capacity

    def remember(self, *values: str | None) -> None:
        with self._lock:
            for value in values:
                if value and len(value) >= 3:
                    self._values[value] = None
                    self._values.move_to_end(value)
            while len(self._values) > self._capacity:
                self._values.popitem(last=False)

    def text(self, value: str) -> str:
        with self._lock:
            known = sorted(self._values, key=len, reverse=True)
        kept, pieces, start = _UUID.finditer(value), [], 0
        for uuid in kept:
            pieces += [self._masked(value[start : uuid.start()], known), uuid.group()]
            start = uuid.end()
        return "".join([*pieces, self._masked(value[start:], known)])

    @staticmethod
    def _masked(text: str, known: list[str]) -> str:
        for secret in known:
            text = text.replace(secret, MASK)
        for pattern in _PATTERNS:
            text = pattern.sub(MASK, text)
        return text

    def value(self, key: str, value: Any) -> Any:
        if key.lower() in SENSITIVE_FIELDS and value is not None:
            return MASK
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, dict):
            return {k: self.value(str(k), v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [self.value(key, v) for v in value]
        return value


REDACTOR = Redactor()


def _closure_context(record: logging.LogRecord) -> dict[str, Any]:
    context: dict[str, Any] = {}
    for source in ("temporal_workflow", "temporal_activity"):
        details = getattr(record, source, None)
        if isinstance(details, dict):
            context.update(
                {
                    k: v
                    for k, v in details.items()
                    if k in ("workflow_id", "run_id", "activity_type", "attempt")
                }
            )
    workflow_id = str(context.get("workflow_id", ""))
    if workflow_id.startswith("account-closure-"):
        context["closure_id"] = workflow_id
        context["account_id"] = workflow_id.removeprefix("account-closure-")
    phase = _phase()
    if phase is not None:
        context["phase"] = phase
    return context


def _phase() -> str | None:
    """Inside a closure's workflow code the phase is its search attribute, upserted at every change."""
    if not workflow.in_workflow():
        return None
    phase: str | None = workflow.info().typed_search_attributes.get(CLOSURE_PHASE)
    return phase


class JsonFormatter(logging.Formatter):
    def __init__(self, redactor: Redactor = REDACTOR) -> None:
        super().__init__()
        self._redactor = redactor

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            **_closure_context(record),
        }
        for key, value in record.__dict__.items():
            if (
                key not in _STANDARD
                and key not in ("temporal_workflow", "temporal_activity")
                and not key.startswith("_")
            ):
                entry[key] = value
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        safe = {key: self._redactor.value(key, value) for key, value in entry.items()}
        return json.dumps(safe, default=str)


def _secrets(value: Any) -> list[str]:
    if isinstance(value, SecretStr):
        return [value.get_secret_value()]
    if isinstance(value, BaseModel):
        return [s for name in type(value).model_fields for s in _secrets(getattr(value, name))]
    return []


def configure_logging(settings: Settings, level: int = logging.INFO) -> None:
    """JSON lines on stderr for the whole process, with this deployment's secrets remembered for masking."""
    REDACTOR.remember(*_secrets(settings))
    handler = logging.StreamHandler()
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # The SDK's context goes into fields of its own here; left on, it is repeated in every message's text.
    workflow.logger.workflow_info_on_message = False
    activity.logger.activity_info_on_message = False
    # uvicorn configures its own loggers before it builds the app: theirs go through the same JSON lines.
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logging.getLogger(name).handlers[:] = []
        logging.getLogger(name).propagate = True
