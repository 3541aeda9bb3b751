"""The control plane under /_sim: clock, faults, ledger, configuration. A public, stable contract."""

from __future__ import annotations

import json
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any, TypeVar

from pydantic import AwareDatetime, BaseModel, ConfigDict, ValidationError
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from simulator import wire
from simulator.app import Simulator, error_response
from simulator.clock import ClockError
from simulator.config import SimConfig
from simulator.faults import FaultSet
from simulator.model import BrokerApiError

M = TypeVar("M", bound=BaseModel)


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")  # a misspelt field is refused, never silently ignored


class ClockChange(Strict):
    now: datetime | None = None
    advance_seconds: float | None = None
    rate: float | None = None
    follow_temporal: str | None = None


class AccountChange(Strict):
    status: str | None = None
    account_blocked: bool | None = None
    transfers_blocked: bool | None = None
    trading_blocked: bool | None = None


class CashPosting(Strict):
    """A credit (positive) or a debit (negative), now or at a later broker time."""

    amount: Decimal
    note: str = "credit"
    at: AwareDatetime | None = None


def _sim(request: Request) -> Simulator:
    sim: Simulator = request.app.state.sim
    return sim


async def _parse(request: Request, model: type[M]) -> M:
    try:
        return model.model_validate(json.loads(await request.body() or b"{}"))
    except (json.JSONDecodeError, ValidationError) as exc:
        raise BrokerApiError(422, f"invalid body: {exc}", code=42210000) from None


def control(handler: Any) -> Any:
    async def endpoint(request: Request) -> Response:
        try:
            result = await handler(_sim(request), request)
        except BrokerApiError as exc:
            return error_response(exc.status, exc.message, exc.code)
        except ClockError as exc:
            return error_response(409, str(exc), 40910001)
        _sim(request).persist(request_changed=request.method != "GET")
        return result if isinstance(result, Response) else JSONResponse(result)

    return endpoint


async def _clock_state(sim: Simulator) -> dict[str, Any]:
    now = await sim.tick()
    return {"now": wire.ts(now), **sim.clock.describe()}


async def get_clock(sim: Simulator, request: Request) -> Any:
    return await _clock_state(sim)


async def set_clock(sim: Simulator, request: Request) -> Any:
    change = await _parse(request, ClockChange)
    if change.now is not None and sim.engine.is_empty:
        sim.clock.rewind(change.now)
        sim.engine.now = None
    if change.follow_temporal:
        await sim.clock.follow_temporal(change.follow_temporal, change.now)
    elif change.rate is not None:
        await sim.clock.run(change.rate, change.now)
    elif change.now is not None:
        await sim.clock.set(change.now)
    if change.advance_seconds is not None:
        await sim.clock.advance(change.advance_seconds)
    return await _clock_state(sim)


async def get_faults(sim: Simulator, request: Request) -> Any:
    return {
        "rules": [r.model_dump() for r in sim.faults.rules],
        "stream_faults": [f.model_dump() for f in sim.faults.stream_faults],
        "transfer_outcomes": [o.model_dump() for o in sim.engine.transfers.outcome_rules],
    }


async def set_faults(sim: Simulator, request: Request) -> Any:
    faults = await _parse(request, FaultSet)
    if request.query_params.get("append") == "true":
        sim.faults.add(faults)
        sim.engine.transfers.outcome_rules.extend(o.model_copy() for o in faults.transfer_outcomes)
    else:
        sim.faults.replace(faults)
        sim.engine.transfers.outcome_rules = [o.model_copy() for o in faults.transfer_outcomes]
    return await get_faults(sim, request)


async def clear_faults(sim: Simulator, request: Request) -> Any:
    sim.faults.clear()
    sim.engine.transfers.outcome_rules = []
    return Response(status_code=204)


async def ledger(sim: Simulator, request: Request) -> Any:
    await sim.tick()
    account = sim.engine.account(request.path_params["account_id"])
    return {
        "account_id": account.id,
        "status": account.status,
        "cash": wire.num(account.cash),
        "entries": [wire.ledger_entry(e) for e in account.ledger],
        "proceeds": [
            {"amount": wire.num(u.amount), "settles_at": wire.ts(u.settles_at)} for u in account.unsettled
        ],
    }


async def get_config(sim: Simulator, request: Request) -> Any:
    return sim.engine.config.model_dump(mode="json")


async def set_config(sim: Simulator, request: Request) -> Any:
    update = await _parse(request, SimConfig)
    sent = json.loads(await request.body() or b"{}")
    sim.engine.config = sim.engine.config.model_copy(update={k: getattr(update, k) for k in sent})
    return sim.engine.config.model_dump(mode="json")


async def set_prices(sim: Simulator, request: Request) -> Any:
    body = json.loads(await request.body() or b"{}")
    if not isinstance(body, dict):
        raise BrokerApiError(422, "body must map symbols to prices", code=42210000)
    for symbol, raw in body.items():
        try:
            sim.engine.trading.set_price(str(symbol), Decimal(str(raw)))
        except InvalidOperation:
            raise BrokerApiError(422, f"price for {symbol} is not a number", code=42210000) from None
    return {s: wire.num(p) for s, p in sim.engine.trading.prices.items()}


async def change_account(sim: Simulator, request: Request) -> Any:
    await sim.tick()
    account = sim.engine.account(request.path_params["account_id"])
    change = await _parse(request, AccountChange)
    status_from = account.status
    for name, value in change.model_dump(exclude_none=True).items():
        setattr(account, name, value)
    blocks = change.model_dump(exclude_none=True, exclude={"status"})
    sim.engine.account_changed(account, status_from, **blocks)
    return wire.account(account)


async def credit(sim: Simulator, request: Request) -> Any:
    await sim.tick()
    body = await _parse(request, CashPosting)
    account_id = request.path_params["account_id"]
    if body.at is not None and body.at > sim.engine.clock_now:
        sim.engine.post_cash_at(body.at, account_id, body.amount, body.note)
        return JSONResponse({"scheduled_at": wire.ts(body.at)}, status_code=202)
    return wire.ledger_entry(sim.engine.post_cash(account_id, body.amount, body.note))


class ManualTransfer(Strict):
    """An outgoing transfer ops make by hand, over the daily limit if need be."""

    amount: Decimal
    relationship_id: str


async def manual_transfer(sim: Simulator, request: Request) -> Any:
    await sim.tick()
    body = await _parse(request, ManualTransfer)
    order = {"amount": str(body.amount), "direction": "OUTGOING", "relationship_id": body.relationship_id}
    transfer = sim.engine.transfers.create(request.path_params["account_id"], order, over_the_limit=True)
    return wire.transfer(transfer)


async def transfer_events(sim: Simulator, request: Request) -> Any:
    await sim.tick()
    return [event.wire() for event in sim.engine.events.all("transfers")]


async def request_counts(sim: Simulator, request: Request) -> Any:
    return dict(sim.requests)


async def request_log(sim: Simulator, request: Request) -> Any:
    """Each Alpaca call as [broker time, "METHOD path", account id, status], oldest first; `account_id` filters."""
    wanted = request.query_params.get("account_id")
    return [list(entry) for entry in sim.request_log if wanted is None or entry[2] == wanted]


async def rate_limit(sim: Simulator, request: Request) -> Any:
    return {"refused": sim.rates.refused, "log": list(sim.rates.log)}


async def health(sim: Simulator, request: Request) -> Any:
    return {"status": "ok"}


def routes() -> list[Route]:
    return [
        Route("/_sim/health", control(health), methods=["GET"]),
        Route("/_sim/clock", control(get_clock), methods=["GET"]),
        Route("/_sim/clock", control(set_clock), methods=["POST"]),
        Route("/_sim/faults", control(get_faults), methods=["GET"]),
        Route("/_sim/faults", control(set_faults), methods=["POST"]),
        Route("/_sim/faults", control(clear_faults), methods=["DELETE"]),
        Route("/_sim/ledger/{account_id}", control(ledger), methods=["GET"]),
        Route("/_sim/config", control(get_config), methods=["GET"]),
        Route("/_sim/config", control(set_config), methods=["POST"]),
        Route("/_sim/prices", control(set_prices), methods=["POST"]),
        Route("/_sim/accounts/{account_id}", control(change_account), methods=["PATCH"]),
        Route("/_sim/accounts/{account_id}/credits", control(credit), methods=["POST"]),
        Route("/_sim/accounts/{account_id}/manual_transfers", control(manual_transfer), methods=["POST"]),
        Route("/_sim/events/transfers", control(transfer_events), methods=["GET"]),
        Route("/_sim/requests", control(request_counts), methods=["GET"]),
        Route("/_sim/requests/log", control(request_log), methods=["GET"]),
        Route("/_sim/rate_limit", control(rate_limit), methods=["GET"]),
    ]
