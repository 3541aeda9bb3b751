"""The Alpaca Broker API routes the service (and a scenario seeder) uses."""

from __future__ import annotations

import json
import uuid
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

from starlette.requests import Request
from starlette.routing import Route

from simulator import wire
from simulator.app import Simulator, alpaca_route
from simulator.model import BrokerApiError


async def _body(request: Request) -> dict[str, Any]:
    try:
        body = await request.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise BrokerApiError(400, "request body is not valid JSON", code=40010000) from None
    if not isinstance(body, dict):
        raise BrokerApiError(400, "request body must be a JSON object", code=40010000)
    return body


def _int_param(request: Request, name: str, default: int, maximum: int | None = None) -> int:
    raw = request.query_params.get(name)
    if raw in (None, ""):
        return default
    try:
        value = int(raw)
    except ValueError:
        raise BrokerApiError(422, f"{name} must be an integer", code=42210000) from None
    if value < 0 or (maximum is not None and value > maximum):
        raise BrokerApiError(422, f"{name} is out of range", code=42210000)
    return value


def _decimal(raw: Any, name: str) -> Decimal | None:
    if raw in (None, ""):
        return None
    try:
        value = Decimal(str(raw))
    except InvalidOperation:
        raise BrokerApiError(422, f"{name} is not a number", code=42210000) from None
    if not value.is_finite() or value <= 0:
        raise BrokerApiError(422, f"{name} must be positive", code=42210000)
    # JSON clients send 5 as 5.0; the broker reports quantities without trailing zeros.
    return value.quantize(Decimal(1)) if value == value.to_integral_value() else value.normalize()


def _account_id(request: Request) -> str:
    return str(request.path_params["account_id"])


# --- accounts -------------------------------------------------------------------------------------------------


async def create_account(sim: Simulator, request: Request) -> Any:
    body = await _body(request)
    contact, identity = body.get("contact"), body.get("identity")
    if not isinstance(contact, dict) or not isinstance(identity, dict):
        raise BrokerApiError(422, "contact and identity are required", code=42210000)
    if not body.get("agreements"):
        raise BrokerApiError(422, "agreements are required", code=42210000)
    return wire.account(sim.engine.create_account(str(uuid.uuid4()), contact, identity))


async def list_accounts(sim: Simulator, request: Request) -> Any:
    statuses = {s for s in request.query_params.get("status", "").split(",") if s}
    return [wire.account(a) for a in sim.engine.accounts.values() if not statuses or a.status in statuses]


async def get_account(sim: Simulator, request: Request) -> Any:
    return wire.account(sim.engine.account(_account_id(request)))


async def close_account(sim: Simulator, request: Request) -> Any:
    sim.engine.close_account(_account_id(request))
    return None


async def trade_account(sim: Simulator, request: Request) -> Any:
    return wire.trade_account(sim.engine, sim.engine.account(_account_id(request)))


# --- funding --------------------------------------------------------------------------------------------------


async def list_relationships(sim: Simulator, request: Request) -> Any:
    account = sim.engine.account(_account_id(request))
    statuses = {s.upper() for s in request.query_params.get("statuses", "").split(",") if s}
    return [wire.relationship(r) for r in account.relationships if not statuses or r.status in statuses]


async def create_relationship(sim: Simulator, request: Request) -> Any:
    relationship = sim.engine.transfers.create_relationship(_account_id(request), await _body(request))
    return wire.relationship(relationship)


async def delete_relationship(sim: Simulator, request: Request) -> Any:
    sim.engine.transfers.delete_relationship(_account_id(request), request.path_params["relationship_id"])
    return None


async def list_transfers(sim: Simulator, request: Request) -> Any:
    account = sim.engine.account(_account_id(request))
    direction = request.query_params.get("direction", "").upper()
    limit = _int_param(request, "limit", 100, maximum=500)
    offset = _int_param(request, "offset", 0)
    found = [t for t in account.transfers if not direction or t.direction == direction]
    found.sort(key=lambda t: t.created_at, reverse=True)
    return [wire.transfer(t) for t in found[offset : offset + limit]]


async def create_transfer(sim: Simulator, request: Request) -> Any:
    return wire.transfer(sim.engine.transfers.create(_account_id(request), await _body(request)))


async def cancel_transfer(sim: Simulator, request: Request) -> Any:
    sim.engine.transfers.cancel(_account_id(request), request.path_params["transfer_id"])
    return None


async def create_journal(sim: Simulator, request: Request) -> Any:
    return wire.journal(sim.engine.journals.create(await _body(request)))


async def list_journals(sim: Simulator, request: Request) -> Any:
    wanted = {k: request.query_params.get(k) for k in ("from_account", "to_account", "status")}
    return [
        wire.journal(j)
        for j in sim.engine.journals.journals.values()
        if all(v in (None, "", getattr(j, k)) for k, v in wanted.items())
    ]


async def get_journal(sim: Simulator, request: Request) -> Any:
    return wire.journal(sim.engine.journals.get(request.path_params["journal_id"]))


async def cancel_journal(sim: Simulator, request: Request) -> Any:
    sim.engine.journals.cancel(request.path_params["journal_id"])
    return None


# --- trading --------------------------------------------------------------------------------------------------


async def list_orders(sim: Simulator, request: Request) -> Any:
    account = sim.engine.account(_account_id(request))
    status = request.query_params.get("status", "open").lower()
    if status not in ("open", "closed", "all"):
        raise BrokerApiError(422, "status must be open, closed or all", code=42210000)
    limit = _int_param(request, "limit", 50, maximum=500)
    symbols = {s.upper() for s in request.query_params.get("symbols", "").split(",") if s}
    orders = [
        o
        for o in account.orders
        if (status == "all" or (status == "open") == o.is_open) and (not symbols or o.symbol in symbols)
    ]
    ascending = request.query_params.get("direction", "desc").lower() == "asc"
    orders.sort(key=lambda o: o.created_at, reverse=not ascending)
    return [wire.order(o) for o in orders[:limit]]


async def submit_order(sim: Simulator, request: Request) -> Any:
    body = await _body(request)
    order_type = str(body.get("type", "market")).lower()
    if order_type not in ("market", "limit"):
        raise BrokerApiError(422, "only market and limit orders are simulated", code=42210000)
    limit_price = _decimal(body.get("limit_price"), "limit_price")
    if (order_type == "limit") != (limit_price is not None):
        raise BrokerApiError(422, "limit_price is required for, and only for, limit orders", code=42210000)
    order = sim.engine.trading.submit(
        _account_id(request),
        str(body.get("symbol", "")),
        str(body.get("side", "")).lower(),
        _decimal(body.get("qty"), "qty"),
        _decimal(body.get("notional"), "notional"),
        limit_price,
        str(body.get("time_in_force", "day")).lower(),
    )
    return wire.order(order)


async def get_order(sim: Simulator, request: Request) -> Any:
    account = sim.engine.account(_account_id(request))
    order = next((o for o in account.orders if o.id == request.path_params["order_id"]), None)
    if order is None:
        raise BrokerApiError(404, "order not found", code=40410000)
    return wire.order(order)


async def cancel_orders(sim: Simulator, request: Request) -> Any:
    cancelled = sim.engine.trading.cancel_all(_account_id(request))
    return [
        {"id": o.id, "status": 200, "body": {**wire.order(o), "status": "pending_cancel"}} for o in cancelled
    ]


async def cancel_order(sim: Simulator, request: Request) -> Any:
    sim.engine.trading.cancel(_account_id(request), request.path_params["order_id"])
    return None


async def list_positions(sim: Simulator, request: Request) -> Any:
    account = sim.engine.account(_account_id(request))
    return [wire.position(sim.engine, account, p) for p in account.positions.values()]


async def get_position(sim: Simulator, request: Request) -> Any:
    account = sim.engine.account(_account_id(request))
    symbol = str(request.path_params["symbol"]).upper()
    if symbol not in account.positions:
        raise BrokerApiError(404, "position does not exist", code=40410000)
    return wire.position(sim.engine, account, account.positions[symbol])


async def close_positions(sim: Simulator, request: Request) -> Any:
    cancel_orders = request.query_params.get("cancel_orders", "false").lower() == "true"
    results = sim.engine.trading.close_all(_account_id(request), cancel_orders)
    out: list[dict[str, Any]] = []
    for r in results:
        if r.order is not None:
            out.append({"symbol": r.symbol, "status": r.status, "body": wire.order(r.order)})
        elif r.error is not None:
            body = {"code": r.error.code, "message": r.error.message, **r.error.extra}
            out.append({"symbol": r.symbol, "status": r.status, "body": body})
    return out


# --- market ---------------------------------------------------------------------------------------------------


async def get_clock(sim: Simulator, request: Request) -> Any:
    return wire.clock(sim.engine.clock_now)


async def get_calendar(sim: Simulator, request: Request) -> Any:
    today = sim.engine.clock_now.date()
    try:
        start = date.fromisoformat(request.query_params.get("start") or today.isoformat())
        end = date.fromisoformat(request.query_params.get("end") or start.isoformat())
    except ValueError:
        raise BrokerApiError(422, "start and end must be YYYY-MM-DD", code=42210000) from None
    if end < start or (end - start).days > 3660:
        raise BrokerApiError(422, "end must be after start and within ten years", code=42210000)
    return wire.calendar(start, end)


def routes() -> list[Route]:
    accounts = "/v1/accounts/{account_id}"
    trading = "/v1/trading/accounts/{account_id}"
    return [
        alpaca_route("POST", "/v1/accounts", create_account),
        alpaca_route("GET", "/v1/accounts", list_accounts),
        alpaca_route("GET", accounts, get_account),
        alpaca_route("DELETE", accounts, close_account),
        alpaca_route("POST", f"{accounts}/actions/close", close_account),
        alpaca_route("GET", f"{accounts}/ach_relationships", list_relationships),
        alpaca_route("POST", f"{accounts}/ach_relationships", create_relationship),
        alpaca_route("DELETE", f"{accounts}/ach_relationships/{{relationship_id}}", delete_relationship),
        alpaca_route("GET", f"{accounts}/transfers", list_transfers),
        alpaca_route("POST", f"{accounts}/transfers", create_transfer),
        alpaca_route("DELETE", f"{accounts}/transfers/{{transfer_id}}", cancel_transfer),
        alpaca_route("POST", "/v1/journals", create_journal),
        alpaca_route("GET", "/v1/journals", list_journals),
        alpaca_route("GET", "/v1/journals/{journal_id}", get_journal),
        alpaca_route("DELETE", "/v1/journals/{journal_id}", cancel_journal),
        alpaca_route("GET", f"{trading}/account", trade_account),
        alpaca_route("GET", f"{trading}/orders", list_orders),
        alpaca_route("POST", f"{trading}/orders", submit_order),
        alpaca_route("DELETE", f"{trading}/orders", cancel_orders, status=207),
        alpaca_route("GET", f"{trading}/orders/{{order_id}}", get_order),
        alpaca_route("DELETE", f"{trading}/orders/{{order_id}}", cancel_order),
        alpaca_route("GET", f"{trading}/positions", list_positions),
        alpaca_route("DELETE", f"{trading}/positions", close_positions, status=207),
        alpaca_route("GET", f"{trading}/positions/{{symbol}}", get_position),
        alpaca_route("GET", "/v1/clock", get_clock),
        alpaca_route("GET", "/v1/calendar", get_calendar),
    ]
