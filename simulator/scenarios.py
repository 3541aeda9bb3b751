"""Seed scenarios through the Broker API itself (alpaca-py), plus the simulator's clock for the waiting.

Any Alpaca client could do the same; nothing here reaches into the simulator's memory.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any, cast

import requests
from alpaca.broker import BrokerClient
from alpaca.broker.enums import TransferDirection, TransferTiming
from alpaca.broker.models import Account, ACHRelationship, Agreement, Contact, Disclosures, Identity, Transfer
from alpaca.broker.requests import (
    CreateAccountRequest,
    CreateACHRelationshipRequest,
    CreateACHTransferRequest,
    LimitOrderRequest,
    MarketOrderRequest,
    OrderRequest,
)
from alpaca.trading.enums import OrderSide, OrderType, QueryOrderStatus, TimeInForce
from alpaca.trading.models import Order, Position
from alpaca.trading.requests import GetOrdersRequest

DEMO_KEY, DEMO_SECRET = "simulator-key", "simulator-secret"


@dataclass
class SeededAccount:
    account_id: str
    relationship_id: str | None
    email: str
    given_name: str
    family_name: str
    bank_last4: str | None = None
    deposits: list[str] = field(default_factory=list)


class ScenarioBuilder:
    def __init__(self, base_url: str, api_key: str = DEMO_KEY, api_secret: str = DEMO_SECRET) -> None:
        self.base_url = base_url.rstrip("/")
        self.broker = BrokerClient(api_key, api_secret, url_override=self.base_url)
        self.broker._retry = 0  # a seeding mistake should fail loudly, not be retried
        self._control = requests.Session()

    # --- control plane --------------------------------------------------------------------------------------

    def control(self, method: str, path: str, body: Any = None) -> Any:
        response = self._control.request(method, f"{self.base_url}/_sim{path}", json=body, timeout=30)
        if response.status_code >= 400:
            raise RuntimeError(f"/_sim{path}: {response.status_code} {response.text}")
        return response.json() if response.content else None

    def now(self) -> datetime:
        return datetime.fromisoformat(self.control("GET", "/clock")["now"].replace("Z", "+00:00"))

    def set_clock(self, now: datetime) -> None:
        self.control("POST", "/clock", {"now": now.isoformat()})

    def advance(self, seconds: float) -> None:
        self.control("POST", "/clock", {"advance_seconds": seconds})

    def follow_temporal(self, target: str, now: datetime | None = None) -> None:
        body: dict[str, Any] = {"follow_temporal": target}
        if now is not None:
            body["now"] = now.isoformat()
        self.control("POST", "/clock", body)

    def run_clock(self, rate: float) -> None:
        self.control("POST", "/clock", {"rate": rate})

    def configure(self, **settings: Any) -> None:
        self.control("POST", "/config", settings)

    def faults(
        self, rules: list[dict[str, Any]], transfer_outcomes: list[dict[str, Any]] | None = None
    ) -> None:
        self.control("POST", "/faults", {"rules": rules, "transfer_outcomes": transfer_outcomes or []})

    def ledger(self, account_id: str) -> dict[str, Any]:
        result: dict[str, Any] = self.control("GET", f"/ledger/{account_id}")
        return result

    # --- Broker API -----------------------------------------------------------------------------------------

    def open_account(self, given_name: str = "Jordan", family_name: str = "Rivera") -> SeededAccount:
        email = f"{given_name}.{family_name}@example.com".lower()
        request = CreateAccountRequest(
            contact=Contact(
                email_address=email,
                phone_number="+15555550100",
                street_address=["20 N San Mateo Dr"],
                city="San Mateo",
                state="CA",
                postal_code="94401",
                country="USA",
            ),
            identity=Identity(
                given_name=given_name,
                family_name=family_name,
                date_of_birth="1985-04-12",
                tax_id="666-55-4321",
                tax_id_type="USA_SSN",
                country_of_citizenship="USA",
                country_of_birth="USA",
                country_of_tax_residence="USA",
                funding_source=["employment_income"],
            ),
            disclosures=Disclosures(
                is_control_person=False,
                is_affiliated_exchange_or_finra=False,
                is_politically_exposed=False,
                immediate_family_exposed=False,
            ),
            agreements=[
                Agreement(
                    agreement="customer_agreement", signed_at="2024-01-02T15:04:05Z", ip_address="127.0.0.1"
                ),
                Agreement(
                    agreement="margin_agreement", signed_at="2024-01-02T15:04:05Z", ip_address="127.0.0.1"
                ),
            ],
        )
        account = cast(Account, self.broker.create_account(request))
        return SeededAccount(str(account.id), None, email, given_name, family_name)

    def link_bank(self, seeded: SeededAccount, account_number: str = "000123456789") -> str:
        relationship = cast(
            ACHRelationship,
            self.broker.create_ach_relationship_for_account(
                seeded.account_id,
                CreateACHRelationshipRequest(
                    account_owner_name=f"{seeded.given_name} {seeded.family_name}",
                    bank_account_type="CHECKING",
                    bank_account_number=account_number,
                    bank_routing_number="121000358",
                    nickname="Everyday Checking",
                ),
            ),
        )
        seeded.relationship_id = str(relationship.id)
        seeded.bank_last4 = account_number[-4:]
        return seeded.relationship_id

    def deposit(self, seeded: SeededAccount, amount: Decimal) -> str:
        """An incoming ACH, then the clock moved on until it is COMPLETE.

        Seeding money is history, not the scenario: it lands on the clock alone (the banking calendar off
        for it), so an account seeded on a Friday evening is funded on that Friday evening.
        """
        assert seeded.relationship_id, "link a bank first"
        request = CreateACHTransferRequest(
            amount=str(amount),
            direction=TransferDirection.INCOMING,
            timing=TransferTiming.IMMEDIATE,
            relationship_id=seeded.relationship_id,
        )
        config = self.control("GET", "/config")
        self.configure(bank_calendar=False)
        try:
            transfer = cast(Transfer, self.broker.create_transfer_for_account(seeded.account_id, request))
            self.advance(config["transfer_queued_seconds"] + config["transfer_clearing_seconds"] + 1)
        finally:
            self.configure(bank_calendar=config["bank_calendar"])
        seeded.deposits.append(str(transfer.id))
        return str(transfer.id)

    def withdraw(self, seeded: SeededAccount, amount: str) -> Transfer:
        """An outgoing ACH made outside any closure (the customer, an operator), as alpaca-py returns it."""
        assert seeded.relationship_id, "link a bank first"
        request = CreateACHTransferRequest(
            amount=amount,
            direction=TransferDirection.OUTGOING,
            timing=TransferTiming.IMMEDIATE,
            relationship_id=seeded.relationship_id,
        )
        return cast(Transfer, self.broker.create_transfer_for_account(seeded.account_id, request))

    def submit(self, account_id: str, request: MarketOrderRequest | LimitOrderRequest) -> str:
        # alpaca-py's broker order requests do not subclass the OrderRequest it annotates.
        order = cast(Order, self.broker.submit_order_for_account(account_id, cast(OrderRequest, request)))
        return str(order.id)

    def buy(self, seeded: SeededAccount, symbol: str, qty: Decimal) -> str:
        request = MarketOrderRequest(
            symbol=symbol,
            qty=float(qty),
            side=OrderSide.BUY,
            type=OrderType.MARKET,
            time_in_force=TimeInForce.DAY,
        )
        return self.submit(seeded.account_id, request)

    def resting_buy(self, seeded: SeededAccount, symbol: str, qty: Decimal, limit_price: Decimal) -> str:
        """A good-till-canceled limit buy below the market: an open order that stays open."""
        request = LimitOrderRequest(
            symbol=symbol,
            qty=float(qty),
            side=OrderSide.BUY,
            type=OrderType.LIMIT,
            time_in_force=TimeInForce.GTC,  # it rests until canceled, across days
            limit_price=float(limit_price),
        )
        return self.submit(seeded.account_id, request)

    def orders(self, account_id: str, status: QueryOrderStatus = QueryOrderStatus.ALL) -> list[Order]:
        request = GetOrdersRequest(status=status, limit=500)
        return cast(list[Order], self.broker.get_orders_for_account(account_id, request))

    def positions(self, account_id: str) -> list[Position]:
        return cast(list[Position], self.broker.get_all_positions_for_account(account_id))

    def set_prices(self, prices: dict[str, Decimal]) -> None:
        self.control("POST", "/prices", {s: str(p) for s, p in prices.items()})

    def funded_account(
        self, cash: Decimal, given_name: str = "Jordan", family_name: str = "Rivera"
    ) -> SeededAccount:
        """An ACTIVE account with an APPROVED bank and `cash` deposited and settled."""
        seeded = self.open_account(given_name, family_name)
        self.link_bank(seeded)
        if cash > 0:
            self.deposit(seeded, cash)
        return seeded
