"""Every Redis key and channel the service reads or writes, and the legacy transfer-status words.

The legacy keys keep the shapes the frontend and the old scheduler used (`closure_state:{account}`, ...);
our own additions sit beside them. The mirror writes these names and the legacy import reads them, so
both take them from here.
"""

from __future__ import annotations

from closure.phases import TRANSFER_SUCCESS

CLOSURE_STATE = "closure_state:"
WITHDRAWAL_STATE = "withdrawal_state:"
PARTIAL_WITHDRAWAL = "partial_withdrawal:"
LEGACY_PREFIXES = (CLOSURE_STATE, WITHDRAWAL_STATE, PARTIAL_WITHDRAWAL)

# A transfer's broker status as the legacy keys spell it; anything else reads as "pending".
LEGACY_TRANSFER_STATUS = {
    TRANSFER_SUCCESS: "completed",
    "REJECTED": "rejected",
    "RETURNED": "returned",
    "CANCELED": "canceled",
}
# And back, for the legacy import: the same words, plus "complete", which the old code also wrote.
BROKER_TRANSFER_STATUS = {legacy: broker for broker, legacy in LEGACY_TRANSFER_STATUS.items()} | {
    "complete": TRANSFER_SUCCESS
}


def closure_state_key(account_id: str) -> str:
    return f"{CLOSURE_STATE}{account_id}"


def withdrawal_state_key(account_id: str) -> str:
    return f"{WITHDRAWAL_STATE}{account_id}"


def partial_withdrawal_key(account_id: str) -> str:
    return f"{PARTIAL_WITHDRAWAL}{account_id}"


def progress_key(account_id: str) -> str:
    return f"closure_progress:{account_id}"


def sequence_key(account_id: str) -> str:
    return f"closure_sequence:{account_id}"


def channel(account_id: str) -> str:
    """Where every mirror write is published, for the API's live progress streams."""
    return f"closure_progress:{account_id}"


def rate_count_key(limit: str, subject: str, bucket: int) -> str:
    """The API's shared count of one subject's requests (a user, an address) under one limit in one window."""
    return f"closure_api:{limit}:{subject}:{bucket}"
