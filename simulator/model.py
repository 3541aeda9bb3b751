"""The simulated broker's records. Amounts are Decimal; the wire module turns them into Alpaca's strings."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

ZERO = Decimal("0")
CENT = Decimal("0.01")
OPEN_ORDER_STATUSES = frozenset({"new", "accepted", "pending_new", "partially_filled", "held"})


class BrokerApiError(Exception):
    """An Alpaca-style error response: HTTP status plus `{"code", "message"}`."""

    def __init__(self, status: int, message: str, code: int | None = None, **extra: Any) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.code = code if code is not None else status * 100000
        self.extra = extra


class UnknownAccount(BrokerApiError):
    """No such account. Answered 404 or, as alpaca-py's docstring says the API does, 401."""

    def __init__(self, account_id: str) -> None:
        super().__init__(404, f"account {account_id} not found", code=40410000)


def whole_cents(raw: Any) -> Decimal:
    """A positive amount in whole cents, as the broker takes one on a transfer or a journal."""
    try:
        amount = Decimal(str(raw))
    except ArithmeticError:
        raise BrokerApiError(422, f"invalid amount {raw!r}", code=42210000) from None
    if not amount.is_finite() or amount <= 0 or amount != amount.quantize(CENT):
        raise BrokerApiError(422, f"amount must be positive whole cents, got {raw!r}", code=42210000)
    return amount.quantize(CENT)


@dataclass
class LedgerEntry:
    """One money movement, as an auditor would read it."""

    seq: int
    kind: str  # deposit | withdrawal | buy | sell | fee | credit | debit | journal_out | journal_in
    #            | closed_with_residual
    amount: Decimal
    status: str
    created_at: datetime
    updated_at: datetime
    transfer_id: str | None = None
    order_id: str | None = None
    symbol: str | None = None
    note: str | None = None


@dataclass
class AchRelationship:
    id: str
    account_id: str
    status: str
    account_owner_name: str
    bank_account_type: str
    bank_account_number: str
    bank_routing_number: str
    nickname: str | None
    created_at: datetime
    updated_at: datetime
    approves_at: datetime


@dataclass
class Transfer:
    id: str
    account_id: str
    relationship_id: str
    amount: Decimal
    direction: str  # INCOMING | OUTGOING
    status: str
    created_at: datetime
    updated_at: datetime
    expires_at: datetime
    ledger: LedgerEntry
    reason: str | None = None
    forced_outcome: str | None = None
    forced_when: str | None = None
    forced_reason: str | None = None


@dataclass
class Order:
    id: str
    client_order_id: str
    account_id: str
    symbol: str
    asset_id: str
    side: str
    qty: Decimal | None
    notional: Decimal | None
    status: str
    created_at: datetime
    updated_at: datetime
    time_in_force: str = "day"
    filled_at: datetime | None = None
    canceled_at: datetime | None = None
    expired_at: datetime | None = None
    filled_qty: Decimal = ZERO
    filled_avg_price: Decimal | None = None
    limit_price: Decimal | None = None

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_ORDER_STATUSES

    def marketable_at(self, price: Decimal) -> bool:
        if self.limit_price is None:
            return True
        return price <= self.limit_price if self.side == "buy" else price >= self.limit_price


@dataclass
class Journal:
    """A JNLC cash journal between two accounts at the broker (a second way cash leaves an account)."""

    id: str
    from_account: str
    to_account: str
    amount: Decimal
    status: str  # queued | executed | rejected | canceled (alpaca-py's JournalStatus, lowercase)
    created_at: datetime
    updated_at: datetime
    description: str | None
    out_entry: LedgerEntry


@dataclass
class Position:
    symbol: str
    asset_id: str
    qty: Decimal
    avg_entry_price: Decimal


@dataclass
class Unsettled:
    amount: Decimal
    settles_at: datetime


@dataclass
class Account:
    id: str
    account_number: str
    status: str
    created_at: datetime
    contact: dict[str, Any]
    identity: dict[str, Any]
    cash: Decimal = ZERO
    account_blocked: bool = False
    transfers_blocked: bool = False
    trading_blocked: bool = False
    unsettled: list[Unsettled] = field(default_factory=list)
    positions: dict[str, Position] = field(default_factory=dict)
    orders: list[Order] = field(default_factory=list)
    relationships: list[AchRelationship] = field(default_factory=list)
    transfers: list[Transfer] = field(default_factory=list)
    ledger: list[LedgerEntry] = field(default_factory=list)

    def open_orders(self) -> list[Order]:
        return [o for o in self.orders if o.is_open]

    def held_for_orders(self, symbol: str) -> Decimal:
        return sum(
            (
                (o.qty or ZERO) - o.filled_qty
                for o in self.open_orders()
                if o.side == "sell" and o.symbol == symbol
            ),
            ZERO,
        )
