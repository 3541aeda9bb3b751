"""The broker calls the closure makes, typed: alpaca-py's models in, its errors translated into ours.

Each call is named by its route (`GET /v1/clock`), which is also its metrics label and its name in errors.

alpaca-py annotates every method as `Model | RawData`; with `raw_data=False` (ours) it returns models, and
anything else is a broker response we cannot trust, so it becomes `BrokerResponseInvalid`.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from functools import partial
from typing import Any, TypeVar

from alpaca.broker import BrokerClient
from alpaca.broker.enums import ACHRelationshipStatus
from alpaca.broker.models import Account, ACHRelationship, TradeAccount, Transfer
from alpaca.broker.requests import CreateACHTransferRequest
from alpaca.trading.enums import QueryOrderStatus
from alpaca.trading.models import Calendar, Clock, ClosePositionResponse, Order, Position
from alpaca.trading.requests import GetCalendarRequest, GetOrdersRequest
from pydantic import BaseModel, ConfigDict, ValidationError

from adapters.alpaca.connection import BrokerConnection
from closure.errors import AccountNotFound, BrokerAuthFailed, BrokerResponseInvalid, ClosureError

M = TypeVar("M")
TRANSFER_PAGE = 100  # the broker's default page; a shorter page is the last one


class ListedTransfer(BaseModel):
    """A transfer as the broker lists it, read leniently where alpaca-py's model is strict.

    alpaca-py's `TransferStatus` lacks statuses the broker reports (EXPIRED, on the funding stream): one such
    transfer would make the whole list unreadable and every closure on the account blind to its money. So
    the status is kept as the broker's text, and the closure decides what it means.
    """

    model_config = ConfigDict(extra="ignore")

    id: str
    amount: str
    status: str
    direction: str
    relationship_id: str | None = None
    created_at: datetime
    updated_at: datetime | None = None
    reason: str | None = None


def _get(path: str, query: dict[str, Any], client: BrokerClient) -> Any:
    return client.get(path, query)


def _one(value: Any, model: type[M], what: str) -> M:
    if not isinstance(value, model):
        raise BrokerResponseInvalid(f"{what}: expected {model.__name__}, got {type(value).__name__}")
    return value


def _many(value: Any, model: type[M], what: str) -> list[M]:
    if not isinstance(value, list):
        raise BrokerResponseInvalid(
            f"{what}: expected a list of {model.__name__}, got {type(value).__name__}"
        )
    return [_one(item, model, what) for item in value]


class AlpacaGateway:
    def __init__(self, connection: BrokerConnection) -> None:
        self._connection = connection

    def _call(self, what: str, fn: Callable[[BrokerClient], Any]) -> Any:
        try:
            return self._connection.call(what, fn)
        except BrokerAuthFailed as exc:
            if "{id}" not in what:
                raise
            raise self._unknown_account_or(exc, what) from exc

    def _unknown_account_or(self, refused: BrokerAuthFailed, what: str) -> ClosureError:
        """The Broker API answers 401 for an account it does not know (alpaca-py's docstring says so), the
        same as for bad credentials. A call that names no account tells them apart."""
        try:
            self._connection.call("GET /v1/clock", lambda c: c.get_clock())
        except BrokerAuthFailed:
            return refused
        return AccountNotFound(
            f"{what}: the broker answered 401 for this account and accepts our credentials"
        )

    def clock(self) -> Clock:
        what = "GET /v1/clock"
        return _one(self._call(what, lambda c: c.get_clock()), Clock, what)

    def calendar(self, request: GetCalendarRequest) -> list[Calendar]:
        what = "GET /v1/calendar"
        return _many(self._call(what, lambda c: c.get_calendar(request)), Calendar, what)

    def account(self, account_id: str) -> Account:
        what = "GET /v1/accounts/{id}"
        return _one(self._call(what, lambda c: c.get_account_by_id(account_id)), Account, what)

    def trade_account(self, account_id: str) -> TradeAccount:
        what = "GET /v1/trading/accounts/{id}/account"
        return _one(self._call(what, lambda c: c.get_trade_account_by_id(account_id)), TradeAccount, what)

    def positions(self, account_id: str) -> list[Position]:
        what = "GET /v1/trading/accounts/{id}/positions"
        return _many(self._call(what, lambda c: c.get_all_positions_for_account(account_id)), Position, what)

    def open_orders(self, account_id: str) -> list[Order]:
        what = "GET /v1/trading/accounts/{id}/orders"
        request = GetOrdersRequest(status=QueryOrderStatus.OPEN, limit=500)
        return _many(self._call(what, lambda c: c.get_orders_for_account(account_id, request)), Order, what)

    def approved_relationships(self, account_id: str) -> list[ACHRelationship]:
        # Only APPROVED: alpaca-py cannot parse some statuses (CANCELED) the broker also returns.
        what = "GET /v1/accounts/{id}/ach_relationships"
        statuses = [ACHRelationshipStatus.APPROVED]
        found = self._call(what, lambda c: c.get_ach_relationships_for_account(account_id, statuses=statuses))
        return _many(found, ACHRelationship, what)

    def cancel_orders(self, account_id: str) -> int:
        what = "DELETE /v1/trading/accounts/{id}/orders"
        cancelled = self._call(what, lambda c: c.cancel_orders_for_account(account_id))
        if not isinstance(cancelled, list):
            raise BrokerResponseInvalid(f"{what}: expected a list, got {type(cancelled).__name__}")
        return len(cancelled)

    def close_all_positions(self, account_id: str) -> list[ClosePositionResponse]:
        what = "DELETE /v1/trading/accounts/{id}/positions"
        closed = self._call(what, lambda c: c.close_all_positions_for_account(account_id, cancel_orders=True))
        return _many(closed, ClosePositionResponse, what)

    def outgoing_transfers(self, account_id: str) -> list[ListedTransfer]:
        """Every outgoing transfer, page by page (alpaca-py's own paging asks once more for an empty page)."""
        what = "GET /v1/accounts/{id}/transfers"
        listed: list[ListedTransfer] = []
        while True:
            query = {"direction": "OUTGOING", "limit": TRANSFER_PAGE, "offset": len(listed)}
            page = self._call(what, partial(_get, f"/accounts/{account_id}/transfers", query))
            if not isinstance(page, list):
                raise BrokerResponseInvalid(f"{what}: expected a list, got {type(page).__name__}")
            try:
                listed += [ListedTransfer.model_validate(row) for row in page]
            except ValidationError as exc:
                raise BrokerResponseInvalid(
                    f"{what}: unexpected broker response: {exc.errors()[:3]}"
                ) from exc
            if len(page) < TRANSFER_PAGE:
                return listed

    def create_transfer(self, account_id: str, request: CreateACHTransferRequest) -> Transfer:
        what = "POST /v1/accounts/{id}/transfers"
        return _one(
            self._call(what, lambda c: c.create_transfer_for_account(account_id, request)), Transfer, what
        )

    def close_account(self, account_id: str) -> None:
        self._call("POST /v1/accounts/{id}/actions/close", lambda c: c.close_account(account_id))
