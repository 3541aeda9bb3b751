"""Alpaca's JSON shapes: every number a decimal string, every time RFC 3339, every required key present."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from simulator import market_calendar as cal
from simulator.engine import BrokerEngine
from simulator.model import Account, AchRelationship, Journal, LedgerEntry, Order, Position, Transfer

JSON = dict[str, Any]
CENT = Decimal("0.01")


def ts(value: datetime | None) -> str | None:
    if value is None:
        return None
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def num(value: Decimal | None) -> str | None:
    return None if value is None else format(value, "f")


def account(acct: Account) -> JSON:
    return {
        "id": acct.id,
        "account_number": acct.account_number,
        "status": acct.status,
        "crypto_status": "PAPER_ONLY",
        "currency": "USD",
        "last_equity": num(acct.cash),
        "created_at": ts(acct.created_at),
        "account_type": "trading",
        "contact": acct.contact,
        "identity": acct.identity,
    }


def trade_account(engine: BrokerEngine, acct: Account) -> JSON:
    cash = acct.cash
    withdrawable = engine.withdrawable(acct)
    long_value = engine.long_market_value(acct)
    equity = cash + long_value
    return {
        "id": acct.id,
        "account_number": acct.account_number,
        "status": acct.status,
        "crypto_status": "PAPER_ONLY",
        "currency": "USD",
        "buying_power": num(withdrawable),
        "regt_buying_power": num(withdrawable),
        "daytrading_buying_power": "0",
        "non_marginable_buying_power": num(withdrawable),
        "cash": num(cash),
        "cash_withdrawable": num(withdrawable),
        "cash_transferable": num(withdrawable),
        "accrued_fees": "0",
        "pending_transfer_out": num(engine.pending_out(acct)),
        "pending_transfer_in": num(engine.pending_in(acct)),
        "portfolio_value": num(equity),
        "pattern_day_trader": False,
        "trading_blocked": acct.trading_blocked,
        "transfers_blocked": acct.transfers_blocked,
        "account_blocked": acct.account_blocked,
        "created_at": ts(acct.created_at),
        "trade_suspended_by_user": False,
        "multiplier": "1",
        "shorting_enabled": False,
        "equity": num(equity),
        "last_equity": num(equity),
        "long_market_value": num(long_value),
        "short_market_value": "0",
        "initial_margin": "0",
        "maintenance_margin": "0",
        "last_maintenance_margin": "0",
        "sma": "0",
        "daytrade_count": 0,
        "previous_close": cal.previous_close(engine.clock_now).isoformat(),
        "last_long_market_value": num(long_value),
        "last_short_market_value": "0",
        "last_cash": num(cash),
        "last_initial_margin": "0",
        "last_regt_buying_power": num(withdrawable),
        "last_daytrading_buying_power": "0",
        "last_buying_power": num(withdrawable),
        "last_daytrade_count": 0,
        "clearing_broker": "ALPACA_APCA",
    }


def position(engine: BrokerEngine, acct: Account, pos: Position) -> JSON:
    price = engine.trading.price(pos.symbol)
    value = (pos.qty * price).quantize(CENT)
    cost = (pos.qty * pos.avg_entry_price).quantize(CENT)
    return {
        "asset_id": pos.asset_id,
        "symbol": pos.symbol,
        "exchange": "NASDAQ",
        "asset_class": "us_equity",
        "asset_marginable": False,
        "qty": num(pos.qty),
        "qty_available": num(pos.qty - acct.held_for_orders(pos.symbol)),
        "avg_entry_price": num(pos.avg_entry_price),
        "side": "long",
        "market_value": num(value),
        "cost_basis": num(cost),
        "unrealized_pl": num(value - cost),
        "unrealized_plpc": "0",
        "unrealized_intraday_pl": "0",
        "unrealized_intraday_plpc": "0",
        "current_price": num(price),
        "lastday_price": num(price),
        "change_today": "0",
    }


def order(o: Order) -> JSON:
    return {
        "id": o.id,
        "client_order_id": o.client_order_id,
        "created_at": ts(o.created_at),
        "updated_at": ts(o.updated_at),
        "submitted_at": ts(o.created_at),
        "filled_at": ts(o.filled_at),
        "expired_at": ts(o.expired_at),
        "canceled_at": ts(o.canceled_at),
        "failed_at": None,
        "replaced_at": None,
        "replaced_by": None,
        "replaces": None,
        "asset_id": o.asset_id,
        "symbol": o.symbol,
        "asset_class": "us_equity",
        "notional": num(o.notional),
        "qty": num(o.qty),
        "filled_qty": num(o.filled_qty),
        "filled_avg_price": num(o.filled_avg_price),
        "order_class": "simple",
        "order_type": "market" if o.limit_price is None else "limit",
        "type": "market" if o.limit_price is None else "limit",
        "side": o.side,
        "time_in_force": o.time_in_force,
        "limit_price": num(o.limit_price),
        "stop_price": None,
        "status": o.status,
        "extended_hours": False,
        "legs": None,
        "trail_percent": None,
        "trail_price": None,
        "hwm": None,
        "commission": "0",
    }


def relationship(r: AchRelationship) -> JSON:
    return {
        "id": r.id,
        "account_id": r.account_id,
        "created_at": ts(r.created_at),
        "updated_at": ts(r.updated_at),
        "status": r.status,
        "account_owner_name": r.account_owner_name,
        "bank_account_type": r.bank_account_type,
        "bank_account_number": r.bank_account_number,
        "bank_routing_number": r.bank_routing_number,
        "nickname": r.nickname,
    }


def transfer(t: Transfer) -> JSON:
    return {
        "id": t.id,
        "relationship_id": t.relationship_id,
        "account_id": t.account_id,
        "type": "ach",
        "status": t.status,
        "reason": t.reason,
        "amount": num(t.amount),
        "requested_amount": num(t.amount),
        "fee": "0",
        "fee_payment_method": "invoice",
        "direction": t.direction,
        "created_at": ts(t.created_at),
        "updated_at": ts(t.updated_at),
        "expires_at": ts(t.expires_at),
    }


def ledger_entry(e: LedgerEntry) -> JSON:
    return {
        "seq": e.seq,
        "kind": e.kind,
        "amount": num(e.amount),
        "status": e.status,
        "transfer_id": e.transfer_id,
        "order_id": e.order_id,
        "symbol": e.symbol,
        "note": e.note,
        "created_at": ts(e.created_at),
        "updated_at": ts(e.updated_at),
    }


def clock(now: datetime) -> JSON:
    c = cal.market_clock(now)
    return {
        "timestamp": c.timestamp.isoformat(),
        "is_open": c.is_open,
        "next_open": c.next_open.isoformat(),
        "next_close": c.next_close.isoformat(),
    }


def calendar(start: date, end: date) -> list[JSON]:
    return [
        {
            "date": d.day.isoformat(),
            "open": d.open.strftime("%H:%M"),
            "close": d.close.strftime("%H:%M"),
            "session_open": "0400",
            "session_close": "2000",
        }
        for d in cal.trading_days(start, end)
    ]


def journal(j: Journal) -> JSON:
    day = j.created_at.astimezone(cal.NEW_YORK).date().isoformat()
    return {
        "id": j.id,
        "entry_type": "JNLC",
        "from_account": j.from_account,
        "to_account": j.to_account,
        "status": j.status,
        "net_amount": num(j.amount),
        "description": j.description,
        "settle_date": day,
        "system_date": day,
        "created_at": ts(j.created_at),
        "updated_at": ts(j.updated_at),
    }
