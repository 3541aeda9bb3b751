"""The legacy system's Redis state (`closure_state`, `withdrawal_state`, `partial_withdrawal`), read once to
import a closure into a workflow, keeping its confirmation number and the transfers it already made."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import redis
from pydantic import BaseModel, Field

from adapters.redis.keys import (
    BROKER_TRANSFER_STATUS,
    LEGACY_PREFIXES,
    closure_state_key,
    partial_withdrawal_key,
    withdrawal_state_key,
)
from closure.broker_types import TransferView
from closure.confirmation import chunk_key, workflow_id_for
from closure.money import parse_money
from closure.phases import ClosurePhase
from closure.progress import ClosureState, PhaseChange, TransferRecord


class LegacyTransfer(BaseModel):
    transfer_id: str
    amount: Decimal
    initiated_at: datetime | None = None
    status: str = "pending"


class LegacyClosure(BaseModel):
    account_id: str
    user_id: str | None = None
    ach_relationship_id: str | None = None
    confirmation_number: str | None = None
    phase: str | None = None
    initiated_at: datetime | None = None
    transfers: list[LegacyTransfer] = Field(default_factory=list)
    keys: list[str] = Field(default_factory=list, description="The legacy keys this was read from.")


def _when(raw: Any) -> datetime | None:
    if not raw:
        return None
    moment = datetime.fromisoformat(str(raw).replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)  # the legacy code wrote naive UTC


def _transfers(*sources: dict[str, Any] | None) -> list[LegacyTransfer]:
    seen: dict[str, LegacyTransfer] = {}
    for source in sources:
        for raw in (source or {}).get("transfers_completed", []):
            if raw.get("transfer_id"):
                seen.setdefault(
                    str(raw["transfer_id"]),
                    LegacyTransfer(
                        transfer_id=str(raw["transfer_id"]),
                        amount=parse_money(str(raw.get("amount", "0"))),
                        initiated_at=_when(raw.get("initiated_at")),
                        status=str(raw.get("status", "pending")),
                    ),
                )
    return sorted(seen.values(), key=lambda t: t.initiated_at or datetime.min.replace(tzinfo=UTC))


def _load(client: redis.Redis, key: str) -> dict[str, Any] | None:
    raw = client.get(key)
    if not raw:
        return None
    value = json.loads(raw)
    return value if isinstance(value, dict) else None


def read_legacy(client: redis.Redis, account_id: str) -> LegacyClosure | None:
    keys = [
        closure_state_key(account_id),
        withdrawal_state_key(account_id),
        partial_withdrawal_key(account_id),
    ]
    closure, withdrawal, partial = (_load(client, key) for key in keys)
    if closure is None and withdrawal is None and partial is None:
        return None
    closure = closure or {}
    return LegacyClosure(
        account_id=account_id,
        user_id=closure.get("user_id"),
        ach_relationship_id=closure.get("ach_relationship_id")
        or (withdrawal or {}).get("ach_relationship_id"),
        confirmation_number=closure.get("confirmation_number"),
        phase=closure.get("phase") or (withdrawal or {}).get("phase"),
        initiated_at=_when(closure.get("initiated_at") or (withdrawal or {}).get("started_at")),
        transfers=_transfers(withdrawal, partial),
        keys=[key for key, value in zip(keys, (closure or None, withdrawal, partial), strict=True) if value],
    )


def legacy_accounts(client: redis.Redis) -> list[str]:
    """Accounts with legacy keys: a `closure_state` our own mirror did not write (it carries a `sequence`)."""
    found = set()
    for prefix in LEGACY_PREFIXES:
        for key in client.scan_iter(match=f"{prefix}*", count=500):
            name = key.decode() if isinstance(key, bytes) else str(key)
            value = _load(client, name)
            if value is not None and "sequence" not in value:
                found.add(name.split(":", 1)[1])
    return sorted(found)


def closure_state(
    account_id: str,
    confirmation_number: str | None,
    started_at: datetime,
    known: list[LegacyTransfer],
    at_broker: list[TransferView],
    note: str,
) -> ClosureState:
    """A workflow state that owns the earlier transfers: those the legacy state lists, and any outgoing
    transfer the broker shows since the closure began (made by a process that died before recording it)."""
    by_id = {t.id: t for t in at_broker}
    ids = [t.transfer_id for t in known] + [
        t.id for t in at_broker if t.id not in {k.transfer_id for k in known}
    ]
    records = []
    for chunk, transfer_id in enumerate(ids, start=1):
        broker = by_id.get(transfer_id)
        legacy = next((t for t in known if t.transfer_id == transfer_id), None)
        records.append(
            TransferRecord(
                chunk=chunk,
                chunk_key=chunk_key(workflow_id_for(account_id), chunk),
                transfer_id=transfer_id,
                amount=broker.amount if broker else (legacy.amount if legacy else Decimal("0")),
                status=broker.status
                if broker
                else BROKER_TRANSFER_STATUS.get((legacy.status if legacy else ""), "PENDING"),
                initiated_at=broker.created_at
                if broker
                else (legacy.initiated_at if legacy and legacy.initiated_at else started_at),
                adopted=True,
            )
        )
    return ClosureState(
        phase=ClosurePhase.INITIATED,
        confirmation_number=confirmation_number or "",
        started_at=started_at,
        transfers=records,
        initiation_notified=True,  # the earlier system set pending_closure and sent the initiation email
        history=[PhaseChange(phase=ClosurePhase.INITIATED, at=started_at, note=note)],
    )
