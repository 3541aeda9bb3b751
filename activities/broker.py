"""Broker activities: each one call to the Alpaca adapter, under a stable activity name.

alpaca-py is blocking, so these are sync activities run on the worker's thread pool.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from temporalio import activity

from adapters.alpaca.broker import AlpacaBroker
from closure.broker_types import (
    AccountClosed,
    AccountView,
    BusinessDeadlineInput,
    CreatedWithdrawal,
    CreateWithdrawalInput,
    LiquidationOrders,
    PlanWithdrawalInput,
    ReviewTransfersInput,
    TrackTransfersInput,
    TransferPlan,
    TransferReview,
    TransferView,
)


class BrokerActivities:
    def __init__(self, broker: AlpacaBroker) -> None:
        self._broker = broker

    @activity.defn(name="broker.inspect_account")
    def inspect_account(self, account_id: str) -> AccountView:
        return self._broker.inspect_account(account_id)

    @activity.defn(name="broker.business_deadline")
    def business_deadline(self, request: BusinessDeadlineInput) -> datetime:
        return self._broker.business_deadline(request)

    @activity.defn(name="broker.liquidate")
    def liquidate(self, account_id: str) -> LiquidationOrders:
        return self._broker.liquidate(account_id)

    @activity.defn(name="broker.cancel_orders")
    def cancel_orders(self, account_id: str) -> int:
        return self._broker.cancel_orders(account_id)

    @activity.defn(name="broker.plan_withdrawal")
    def plan_withdrawal(self, request: PlanWithdrawalInput) -> TransferPlan:
        return self._broker.plan_withdrawal(request)

    @activity.defn(name="broker.create_withdrawal")
    def create_withdrawal(self, request: CreateWithdrawalInput) -> CreatedWithdrawal:
        return self._broker.create_withdrawal(request)

    @activity.defn(name="broker.track_transfers")
    def track_transfers(self, request: TrackTransfersInput) -> list[TransferView]:
        return self._broker.track_transfers(request)

    @activity.defn(name="broker.review_transfers")
    def review_transfers(self, request: ReviewTransfersInput) -> TransferReview:
        return self._broker.review_transfers(request)

    @activity.defn(name="broker.close_account")
    def close_account(self, account_id: str) -> AccountClosed:
        return self._broker.close_account(account_id)

    def all(self) -> list[Callable[..., Any]]:
        return [
            self.inspect_account,
            self.business_deadline,
            self.liquidate,
            self.cancel_orders,
            self.plan_withdrawal,
            self.create_withdrawal,
            self.track_transfers,
            self.review_transfers,
            self.close_account,
        ]
