"""The broker operations a closure makes on Alpaca, each one reading broker truth first.

alpaca-py is blocking, so these are sync; the activities run them on the worker's thread pool and the API
and the operator tools on a thread of their own.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from alpaca.broker.enums import TransferDirection, TransferTiming
from alpaca.broker.models import ACHRelationship, Transfer
from alpaca.broker.requests import CreateACHTransferRequest
from alpaca.trading.requests import GetCalendarRequest

from adapters.alpaca.connection import BrokerConnection
from adapters.alpaca.gateway import AlpacaGateway, ListedTransfer
from closure.bank_calendar import NEW_YORK, is_bank_day
from closure.broker_types import (
    AccountClosed,
    AccountView,
    AchRelationshipView,
    BrokerClock,
    BusinessDeadlineInput,
    CreatedWithdrawal,
    CreateWithdrawalInput,
    LiquidationOrders,
    PlanWithdrawalInput,
    PositionView,
    ReviewTransfersInput,
    TrackTransfersInput,
    TransferPlan,
    TransferReview,
    TransferView,
)
from closure.eligibility import AccountStatus
from closure.errors import (
    AccountCloseRefused,
    AccountNotClosedYet,
    AccountNotEmpty,
    BrokerRequestRefused,
    BrokerResponseInvalid,
    BrokerStateUnexpected,
    BrokerUnavailable,
    WithdrawalOutcomeUnknown,
    WithdrawalRefused,
)
from closure.money import ZERO, InvalidAmount, cents, parse_money

DAILY_WINDOW = timedelta(hours=24)
log = logging.getLogger("account_closure.broker")


def _money(raw: str | None, field: str) -> Decimal:
    """A broker amount the closure relies on. A missing one is not zero (reading it as zero could close an
    account with money on it), and one that is not a number is the broker's error, not ours to retry."""
    if raw is None or raw == "":
        raise BrokerResponseInvalid(f"the broker's answer has no {field}")
    try:
        return parse_money(raw)
    except InvalidAmount as exc:
        raise BrokerResponseInvalid(f"the broker sent {exc}") from exc


def _enum_text(value: Any) -> str:
    return str(getattr(value, "value", value))


def transfer_view(t: Transfer | ListedTransfer) -> TransferView:
    amount = _money(t.amount, "amount")
    if amount <= 0:
        raise BrokerResponseInvalid(f"the broker lists transfer {t.id} with the amount {t.amount!r}")
    return TransferView(
        id=str(t.id),
        amount=amount,
        status=_enum_text(t.status),
        direction=_enum_text(t.direction),
        relationship_id=str(t.relationship_id) if t.relationship_id else None,
        created_at=t.created_at,
        updated_at=t.updated_at,
        reason=t.reason,
    )


def _relationship_view(r: ACHRelationship) -> AchRelationshipView:
    return AchRelationshipView(
        id=str(r.id),
        status=_enum_text(r.status),
        account_last4=str(r.bank_account_number or "")[-4:],
        nickname=r.nickname,
    )


def _tracked(outgoing: list[TransferView], ids: list[str]) -> list[TransferView]:
    by_id = {t.id: t for t in outgoing}
    missing = [i for i in ids if i not in by_id]
    if missing:
        raise BrokerStateUnexpected(f"the broker no longer lists transfer(s) {', '.join(missing)}")
    return [by_id[i] for i in ids]


class AlpacaBroker:
    def __init__(self, connection: BrokerConnection) -> None:
        self._broker = AlpacaGateway(connection)

    # --- reads ----------------------------------------------------------------------------------------------

    def clock(self) -> BrokerClock:
        """The broker's market clock: the cheapest authenticated call, which `closure doctor` makes."""
        return self._clock()

    def _clock(self) -> BrokerClock:
        clock = self._broker.clock()
        return BrokerClock(
            now=clock.timestamp, is_open=clock.is_open, next_open=clock.next_open, next_close=clock.next_close
        )

    def outgoing(self, account_id: str) -> list[TransferView]:
        """Every outgoing transfer of the account, oldest first."""
        views = (transfer_view(t) for t in self._broker.outgoing_transfers(account_id))
        return sorted(views, key=lambda t: t.created_at)

    def cash(self, account_id: str) -> Decimal:
        """The account's cash, readable after the account is closed too."""
        return _money(self._broker.trade_account(account_id).cash, "cash")

    def inspect_account(self, account_id: str) -> AccountView:
        """Account status, balances, positions, open orders, the approved bank, and the broker's clock."""
        acct = self._broker.trade_account(account_id)
        positions = self._broker.positions(account_id)
        orders = self._broker.open_orders(account_id)
        approved = next(iter(self._broker.approved_relationships(account_id)), None)
        return AccountView(
            account_id=account_id,
            status=_enum_text(acct.status),
            account_blocked=bool(acct.account_blocked),
            transfers_blocked=bool(acct.transfers_blocked),
            cash=_money(acct.cash, "cash"),
            cash_withdrawable=_money(acct.cash_withdrawable, "cash_withdrawable"),
            pending_transfer_out=_money(acct.pending_transfer_out, "pending_transfer_out"),
            pending_transfer_in=_money(acct.pending_transfer_in, "pending_transfer_in"),
            long_market_value=_money(acct.long_market_value, "long_market_value"),
            positions=[PositionView(symbol=p.symbol, qty=Decimal(p.qty)) for p in positions],
            open_orders=len(orders),
            approved_relationship=_relationship_view(approved) if approved else None,
            clock=self._clock(),
        )

    def business_deadline(self, request: BusinessDeadlineInput) -> datetime:
        """`business_days` trading days after `start` by the broker's calendar (days the banks open too, if
        asked), at the start's time of day or the New York time asked for."""
        in_new_york = request.at_new_york_time is not None
        start_day = (request.start.astimezone(NEW_YORK) if in_new_york else request.start).date()
        ahead = GetCalendarRequest(
            start=start_day, end=start_day + timedelta(days=request.business_days * 2 + 14)
        )
        later = [
            d.date
            for d in self._broker.calendar(ahead)
            if d.date > start_day and (not request.bank_days_too or is_bank_day(d.date))
        ]
        if len(later) < request.business_days:
            raise BrokerStateUnexpected("the broker calendar has too few trading days ahead")
        day = later[request.business_days - 1] if request.business_days else start_day
        if request.at_new_york_time is not None:
            return datetime.combine(day, request.at_new_york_time, NEW_YORK)
        return datetime.combine(day, request.start.timetz())

    # --- liquidation ----------------------------------------------------------------------------------------

    def liquidate(self, account_id: str) -> LiquidationOrders:
        """Cancel every open order, then place closing orders for every position."""
        cancelled = self._broker.cancel_orders(account_id)
        sold, refused = [], []
        for result in self._broker.close_all_positions(account_id):
            if result.status == 200:
                sold.append(str(result.symbol))
            else:
                refused.append(f"{result.symbol}: {getattr(result.body, 'message', result.body)}")
        return LiquidationOrders(orders_cancelled=cancelled, sell_orders=sold, refused=refused)

    def cancel_orders(self, account_id: str) -> int:
        """Withdraw the closure's own sell orders when it is cancelled before they fill."""
        return self._broker.cancel_orders(account_id)

    # --- withdrawals ----------------------------------------------------------------------------------------

    def plan_withdrawal(self, request: PlanWithdrawalInput) -> TransferPlan:
        """How much may go out now: min(withdrawable, what the rolling 24 h window has left)."""
        acct = self._broker.trade_account(request.account_id)
        outgoing = self.outgoing(request.account_id)
        now = self._clock().now
        in_window = [t for t in outgoing if t.uses_daily_limit and t.created_at > now - DAILY_WINDOW]
        used = sum((t.amount for t in in_window), ZERO)
        limit_left = max(request.daily_limit - used, ZERO)
        withdrawable = _money(acct.cash_withdrawable, "cash_withdrawable")
        known = set(request.known_transfer_ids)
        return TransferPlan(
            broker_now=now,
            cash=_money(acct.cash, "cash"),
            cash_withdrawable=withdrawable,
            window_used=used,
            limit_left=limit_left,
            amount=cents(min(withdrawable, limit_left)),
            window_frees_at=min(t.created_at for t in in_window) + DAILY_WINDOW if in_window else None,
            outgoing_before=[t.id for t in outgoing],
            tracked=_tracked(outgoing, request.tracked_transfer_ids),
            unknown=[t for t in outgoing if t.id not in known],
        )

    def create_withdrawal(self, request: CreateWithdrawalInput) -> CreatedWithdrawal:
        """Check, then create: adopt a transfer an earlier attempt made for this chunk, or make one."""
        before = set(request.outgoing_before)
        appeared = [t for t in self.outgoing(request.account_id) if t.id not in before and not t.failed]
        if appeared:
            same = [t for t in appeared if t.amount == request.amount] or appeared
            log.warning("adopting transfer %s for %s", same[0].id, request.chunk_key)
            return CreatedWithdrawal(chunk_key=request.chunk_key, transfer=same[0], adopted=True)
        body = CreateACHTransferRequest(
            amount=str(request.amount),
            direction=TransferDirection.OUTGOING,
            timing=TransferTiming.IMMEDIATE,
            relationship_id=request.relationship_id,
        )
        try:
            created = self._broker.create_transfer(request.account_id, body)
        except BrokerRequestRefused as exc:
            raise WithdrawalRefused(str(exc)) from exc
        except BrokerUnavailable as exc:
            if exc.processed_maybe:
                raise WithdrawalOutcomeUnknown(f"{request.chunk_key}: {exc}") from exc
            raise
        except BrokerResponseInvalid as exc:
            # The broker answered, so it may well have made the transfer: an unreadable answer is not a no.
            raise WithdrawalOutcomeUnknown(f"{request.chunk_key}: {exc}") from exc
        return CreatedWithdrawal(chunk_key=request.chunk_key, transfer=transfer_view(created), adopted=False)

    def track_transfers(self, request: TrackTransfersInput) -> list[TransferView]:
        return _tracked(self.outgoing(request.account_id), request.transfer_ids)

    def review_transfers(self, request: ReviewTransfersInput) -> TransferReview:
        """The closure's transfers as the broker lists them now, and any outgoing one nobody accounts for."""
        outgoing = self.outgoing(request.account_id)
        known = set(request.known_transfer_ids)
        return TransferReview(
            broker_now=self._clock().now,
            tracked=_tracked(outgoing, request.tracked_transfer_ids),
            unknown=[t for t in outgoing if t.id not in known],
        )

    # --- closing --------------------------------------------------------------------------------------------

    def _left_behind(self, account_id: str) -> list[str]:
        """What a close would leave on the account now (three reads, not a whole inspection)."""
        acct = self._broker.trade_account(account_id)
        left = []
        if positions := self._broker.positions(account_id):
            left.append(f"{len(positions)} position(s)")
        if orders := self._broker.open_orders(account_id):
            left.append(f"{len(orders)} open order(s)")
        if (cash := _money(acct.cash, "cash")) != 0:
            left.append(f"cash {cash}")
        if _money(acct.pending_transfer_out, "pending_transfer_out") or _money(
            acct.pending_transfer_in, "pending_transfer_in"
        ):
            left.append("pending transfers")
        return left

    def close_account(self, account_id: str) -> AccountClosed:
        """Check, close, then confirm ACCOUNT_CLOSED; a retry after a lost answer only confirms.

        Alpaca accepts a close with money or positions left (it documents only 204 and 404), so the account
        is read once more right before the call and the close is not sent if anything is on it.
        """
        status = _enum_text(self._broker.account(account_id).status)
        if status != AccountStatus.ACCOUNT_CLOSED:
            left = self._left_behind(account_id)
            if left:
                raise AccountNotEmpty(f"not closing: the account holds {', '.join(left)}")
            try:
                self._broker.close_account(account_id)
            except BrokerRequestRefused as exc:
                raise AccountCloseRefused(str(exc)) from exc
            status = _enum_text(self._broker.account(account_id).status)
        if status != AccountStatus.ACCOUNT_CLOSED:
            raise AccountNotClosedYet(f"the broker reports {status} after the close request")
        return AccountClosed(status=status, closed_at=self._clock().now)
