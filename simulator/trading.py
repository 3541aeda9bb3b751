"""Orders and positions: market orders fill at the open (now, if the market is open), at a set price.

Sale proceeds raise `cash` at the fill and become withdrawable at T+N (the engine's settlement rule).
"""

from __future__ import annotations

import copy
import hashlib
import uuid
from dataclasses import dataclass
from datetime import timedelta
from decimal import ROUND_CEILING, ROUND_DOWN, Decimal
from functools import partial
from typing import TYPE_CHECKING

from simulator import market_calendar as cal
from simulator.events import rfc3339
from simulator.model import ZERO, Account, BrokerApiError, Order, Position, Unsettled

if TYPE_CHECKING:
    from simulator.engine import BrokerEngine

CENT = Decimal("0.01")
QTY = Decimal("0.000000001")


@dataclass(frozen=True)
class CloseResult:
    symbol: str
    status: int
    order: Order | None = None
    error: BrokerApiError | None = None


def _asset_id(symbol: str) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"asset:{symbol}"))


class TradingDesk:
    def __init__(self, engine: BrokerEngine) -> None:
        self._engine = engine
        self.prices: dict[str, Decimal] = {}

    def price(self, symbol: str) -> Decimal:
        if symbol not in self.prices:
            # A stable made-up price between $10 and $500, so any symbol can be traded.
            digest = int(hashlib.sha256(symbol.encode()).hexdigest()[:8], 16)
            self.prices[symbol] = (Decimal(10) + Decimal(digest % 49000) / 100).quantize(CENT)
        return self.prices[symbol]

    def set_price(self, symbol: str, price: Decimal) -> None:
        if price <= 0:
            raise BrokerApiError(422, "price must be positive", code=42210000)
        self.prices[symbol.upper()] = price

    # --- orders ---------------------------------------------------------------------------------------------

    def submit(
        self,
        account_id: str,
        symbol: str,
        side: str,
        qty: Decimal | None,
        notional: Decimal | None,
        limit_price: Decimal | None = None,
        time_in_force: str = "day",
    ) -> Order:
        engine = self._engine
        if time_in_force not in ("day", "gtc"):
            raise BrokerApiError(422, f"time_in_force {time_in_force!r} is not simulated", code=42210000)
        account = engine.account(account_id)
        if account.status != "ACTIVE" or account.trading_blocked or account.account_blocked:
            raise BrokerApiError(403, "account is not allowed to trade", code=40310000)
        if side not in ("buy", "sell"):
            raise BrokerApiError(422, f"invalid side {side!r}", code=42210000)
        if (qty is None) == (notional is None):
            raise BrokerApiError(422, "exactly one of qty or notional is required", code=42210000)
        symbol = symbol.upper()
        price = self.price(symbol)
        estimate = notional if notional is not None else (qty or ZERO) * price
        if side == "buy" and estimate > engine.withdrawable(account):
            raise BrokerApiError(403, "insufficient buying power", code=40310000)
        if side == "sell":
            held = account.held_for_orders(symbol)
            owned = account.positions[symbol].qty if symbol in account.positions else ZERO
            wanted = qty if qty is not None else (notional or ZERO) / price
            if wanted > owned - held:
                raise BrokerApiError(403, "insufficient qty available for order", code=40310000)
        now = engine.clock_now
        order = Order(
            id=str(uuid.uuid4()),
            client_order_id=str(uuid.uuid4()),
            account_id=account_id,
            symbol=symbol,
            asset_id=_asset_id(symbol),
            side=side,
            qty=qty,
            notional=notional,
            status="accepted",
            created_at=now,
            updated_at=now,
            time_in_force=time_in_force,
            limit_price=limit_price,
        )
        account.orders.append(order)
        self._event(order, "new")
        clock = cal.market_clock(now)
        engine.schedule(now if clock.is_open else clock.next_open, partial(self._fill, account, order))
        if time_in_force == "day":
            engine.schedule(clock.next_close, partial(self._expire, order))
        return order

    def cancel_all(self, account_id: str) -> list[Order]:
        account = self._engine.account(account_id)
        cancelled = account.open_orders()
        for order in cancelled:
            self._cancel(order)
        return cancelled

    def cancel(self, account_id: str, order_id: str) -> None:
        account = self._engine.account(account_id)
        order = next((o for o in account.orders if o.id == order_id), None)
        if order is None:
            raise BrokerApiError(404, "order not found", code=40410000)
        if not order.is_open:
            raise BrokerApiError(422, f"order is {order.status} and cannot be canceled", code=42210000)
        self._cancel(order)

    def _cancel(self, order: Order) -> None:
        now = self._engine.clock_now
        order.status, order.canceled_at, order.updated_at = "canceled", now, now
        self._event(order, "canceled")

    def close_all(self, account_id: str, cancel_orders: bool) -> list[CloseResult]:
        account = self._engine.account(account_id)
        if cancel_orders:
            self.cancel_all(account_id)
        results = []
        for symbol, position in list(account.positions.items()):
            available = position.qty - account.held_for_orders(symbol)
            if available <= 0:
                error = BrokerApiError(
                    403,
                    "insufficient qty available for order",
                    code=40310000,
                    symbol=symbol,
                    existing_qty=str(position.qty),
                    held_for_orders=str(account.held_for_orders(symbol)),
                    available=str(available),
                )
                results.append(CloseResult(symbol, 403, error=error))
                continue
            results.append(
                CloseResult(symbol, 200, order=self.submit(account_id, symbol, "sell", available, None))
            )
        return results

    # --- fills ----------------------------------------------------------------------------------------------

    def _fill(self, account: Account, order: Order) -> None:
        """Fill what the market takes now: all of it, or at most `max_fill_qty` shares of an order for a
        quantity, the rest `partial_fill_seconds` later (and a DAY order's rest expires at the close)."""
        if not order.is_open:
            return
        engine = self._engine
        price = self.price(order.symbol)
        if not order.marketable_at(price):
            return  # a limit order rests until it is canceled or expires
        if order.qty is None:
            part = ((order.notional or ZERO) / price).quantize(QTY, ROUND_DOWN)
        else:
            part = min(order.qty - order.filled_qty, engine.config.max_fill_qty or order.qty)
        value = (part * price).quantize(CENT, rounding=ROUND_DOWN)
        if not self._book(account, order, part, price, value):
            order.status, order.updated_at = "rejected", engine.clock_now
            self._event(order, "rejected")
            return
        now = engine.clock_now
        filled = order.filled_qty + part
        average = ((order.filled_avg_price or ZERO) * order.filled_qty + price * part) / filled
        order.filled_avg_price = average.quantize(CENT)
        order.filled_qty, order.filled_at, order.updated_at = filled, now, now
        order.status = "filled" if order.qty is None or filled == order.qty else "partially_filled"
        self._fill_event(account, order, part, price)
        engine.record(account, order.side, value, "filled", order_id=order.id, symbol=order.symbol)
        if order.side == "sell":
            self._take_sell_fees(account, order, part, value)
        if order.status == "partially_filled":
            later = now + timedelta(seconds=engine.config.partial_fill_seconds)
            engine.schedule(later, partial(self._fill, account, order))

    def _book(self, account: Account, order: Order, qty: Decimal, price: Decimal, value: Decimal) -> bool:
        """Move the cash and the shares of one fill; False if the account cannot take it."""
        if order.side == "buy":
            if value > account.cash:
                return False
            account.cash -= value
            self._add_position(account, order.symbol, qty, price)
            return True
        position = account.positions.get(order.symbol)
        if position is None or position.qty < qty:
            return False
        position.qty -= qty
        if position.qty == 0:
            del account.positions[order.symbol]
        account.cash += value
        account.unsettled.append(Unsettled(value, self._engine.settles_at(self._engine.clock_now)))
        return True

    def _expire(self, order: Order) -> None:
        """A DAY order still open at the close of its session expires, whatever part of it filled."""
        if order.is_open:
            now = self._engine.clock_now
            order.status, order.expired_at, order.updated_at = "expired", now, now
            self._event(order, "expired")

    def _event(self, order: Order, event: str, **fill: str) -> None:
        """A trade event carries the order as it stands after the change (a copy: it changes on)."""
        at = rfc3339(self._engine.clock_now)
        self._engine.publish(
            "trades", order.account_id, event=event, order=copy.copy(order), timestamp=at, **fill
        )

    def _fill_event(self, account: Account, order: Order, qty: Decimal, price: Decimal) -> None:
        held = account.positions.get(order.symbol)
        self._event(
            order,
            "fill" if order.status == "filled" else "partial_fill",
            execution_id=str(uuid.uuid4()),
            price=format(price, "f"),
            qty=format(qty, "f"),
            position_qty=format(held.qty if held is not None else ZERO, "f"),
        )

    def _take_sell_fees(self, account: Account, order: Order, qty: Decimal, value: Decimal) -> None:
        """The regulatory fees on a sell fill, each rounded up to the cent for the fill, taken from cash."""
        config = self._engine.config
        fees = {
            "SEC fee": value * config.sec_fee_per_million / 1_000_000,
            "FINRA TAF": min(qty * config.taf_fee_per_share, config.taf_fee_max),
        }
        for name, raw in fees.items():
            fee = raw.quantize(CENT, rounding=ROUND_CEILING)
            if fee > 0:
                account.cash -= fee
                self._engine.record(
                    account, "fee", fee, "settled", order_id=order.id, symbol=order.symbol, note=name
                )

    def _add_position(self, account: Account, symbol: str, qty: Decimal, price: Decimal) -> None:
        position = account.positions.get(symbol)
        if position is None:
            account.positions[symbol] = Position(symbol, _asset_id(symbol), qty, price)
            return
        total = position.qty + qty
        position.avg_entry_price = ((position.avg_entry_price * position.qty + price * qty) / total).quantize(
            CENT
        )
        position.qty = total
