"""ACH relationships and transfers.

An outgoing transfer debits cash when it is created and walks the Broker API's statuses (QUEUED,
APPROVAL_PENDING, PENDING, SENT_TO_CLEARING, APPROVED, COMPLETE; or the short walk) on the configured delays;
REJECTED and CANCELED (at any stage before COMPLETE) and RETURNED (after it) give the money back. An incoming
transfer credits cash at COMPLETE and takes it back if it is RETURNED. The broker refuses a transfer above
the withdrawable cash or one that would push the rolling 24 h outgoing total over the limit.
"""

from __future__ import annotations

import uuid
from datetime import timedelta
from decimal import Decimal
from functools import partial
from typing import TYPE_CHECKING, Any

from simulator import market_calendar as cal
from simulator.faults import TransferOutcome
from simulator.model import ZERO, AchRelationship, BrokerApiError, Transfer, whole_cents

if TYPE_CHECKING:
    from simulator.engine import BrokerEngine

CENT = Decimal("0.01")
TERMINAL = frozenset({"COMPLETE", "REJECTED", "CANCELED", "RETURNED", "EXPIRED"})
NEVER_SENT = frozenset({"REJECTED", "CANCELED", "EXPIRED"})
CANCELABLE = frozenset({"QUEUED", "APPROVAL_PENDING", "PENDING"})


class TransferDesk:
    def __init__(self, engine: BrokerEngine) -> None:
        self._engine = engine
        self.outcome_rules: list[TransferOutcome] = []

    @staticmethod
    def is_terminal(transfer: Transfer) -> bool:
        return transfer.status in TERMINAL

    # --- relationships --------------------------------------------------------------------------------------

    def create_relationship(self, account_id: str, body: dict[str, Any]) -> AchRelationship:
        engine = self._engine
        account = engine.account(account_id)
        if any(r.status != "CANCELED" for r in account.relationships):
            raise BrokerApiError(409, "account already has an active relationship", code=40910000)
        for name in ("account_owner_name", "bank_account_type", "bank_account_number", "bank_routing_number"):
            if not body.get(name):
                raise BrokerApiError(422, f"{name} is required", code=42210000)
        now = engine.clock_now
        approves_at = now + timedelta(seconds=engine.config.ach_approval_seconds)
        relationship = AchRelationship(
            id=str(uuid.uuid4()),
            account_id=account_id,
            status="QUEUED",
            account_owner_name=str(body["account_owner_name"]),
            bank_account_type=str(body["bank_account_type"]).upper(),
            bank_account_number=str(body["bank_account_number"]),
            bank_routing_number=str(body["bank_routing_number"]),
            nickname=body.get("nickname"),
            created_at=now,
            updated_at=now,
            approves_at=approves_at,
        )
        account.relationships.append(relationship)
        self._relationship_event(relationship, "")
        halfway = now + (approves_at - now) / 2
        engine.schedule(halfway, partial(self._move, relationship, "QUEUED", "PENDING"))
        engine.schedule(approves_at, partial(self._move, relationship, "PENDING", "APPROVED"))
        engine.advance_to(now)  # a zero approval delay approves at once
        return relationship

    def _move(self, relationship: AchRelationship, leaving: str, status: str) -> None:
        if relationship.status == leaving:
            self._set_relationship(relationship, status)

    def _set_relationship(self, relationship: AchRelationship, status: str) -> None:
        status_from, relationship.status = relationship.status, status
        relationship.updated_at = self._engine.clock_now
        self._relationship_event(relationship, status_from)

    def _relationship_event(self, relationship: AchRelationship, status_from: str) -> None:
        self._engine.publish(
            "funding",
            relationship.account_id,
            entity_type="BankRelationship",
            entity_id=relationship.id,
            status_from=status_from,
            status_to=relationship.status,
        )

    def delete_relationship(self, account_id: str, relationship_id: str) -> None:
        """Ask for a cancel: CANCEL_REQUESTED, then CANCELED; both stay in the list, as the real API lists them."""
        engine = self._engine
        account = engine.account(account_id)
        relationship = next((r for r in account.relationships if r.id == relationship_id), None)
        if relationship is None:
            raise BrokerApiError(404, "relationship not found", code=40410000)
        if relationship.status in ("CANCEL_REQUESTED", "CANCELED"):
            raise BrokerApiError(422, f"relationship is already {relationship.status}", code=42210000)
        self._set_relationship(relationship, "CANCEL_REQUESTED")
        done = engine.clock_now + timedelta(seconds=engine.config.ach_cancel_seconds)
        engine.schedule(done, partial(self._move, relationship, "CANCEL_REQUESTED", "CANCELED"))
        engine.advance_to(engine.clock_now)  # a zero delay cancels at once

    # --- transfers ------------------------------------------------------------------------------------------

    def create(self, account_id: str, body: dict[str, Any], over_the_limit: bool = False) -> Transfer:
        """A transfer as the API makes one; `over_the_limit` is an operator's override of the daily limit
        (a manual transfer ops make outside any closure), recorded as such in the ledger."""
        engine = self._engine
        account = engine.account(account_id)
        direction = str(body.get("direction", "")).upper()
        if str(body.get("transfer_type", "ach")).lower() != "ach":
            raise BrokerApiError(422, "only ach transfers are simulated", code=42210000)
        if direction not in ("INCOMING", "OUTGOING"):
            raise BrokerApiError(422, "direction must be INCOMING or OUTGOING", code=42210000)
        amount = whole_cents(body.get("amount"))
        relationship = next((r for r in account.relationships if r.id == body.get("relationship_id")), None)
        if relationship is None:
            raise BrokerApiError(422, "relationship_id does not belong to this account", code=42210000)
        if relationship.status != "APPROVED":
            raise BrokerApiError(
                403, f"ACH relationship is {relationship.status}, not APPROVED", code=40310000
            )
        if account.status != "ACTIVE":
            raise BrokerApiError(403, f"account is {account.status}", code=40310000)
        if account.account_blocked or account.transfers_blocked:
            raise BrokerApiError(403, "transfers are blocked for this account", code=40310000)
        if direction == "OUTGOING":
            self._check_outgoing(account_id, amount, over_the_limit)
        now = engine.clock_now
        kind = "withdrawal" if direction == "OUTGOING" else "deposit"
        transfer_id = str(uuid.uuid4())
        note = "manual transfer: daily limit overridden by an operator" if over_the_limit else None
        entry = engine.record(account, kind, amount, "QUEUED", transfer_id=transfer_id, note=note)
        transfer = Transfer(
            id=transfer_id,
            account_id=account_id,
            relationship_id=relationship.id,
            amount=amount,
            direction=direction,
            status="QUEUED",
            created_at=now,
            updated_at=now,
            expires_at=now + timedelta(days=7),
            ledger=entry,
        )
        if direction == "OUTGOING":
            account.cash -= amount
        transfer.forced_outcome = self._forced_outcome(account_id, transfer)
        account.transfers.append(transfer)
        self._event(transfer, "")
        self._schedule_next(transfer, self._walk())
        return transfer

    def cancel(self, account_id: str, transfer_id: str) -> None:
        account = self._engine.account(account_id)
        transfer = next((t for t in account.transfers if t.id == transfer_id), None)
        if transfer is None:
            raise BrokerApiError(404, "transfer not found", code=40410000)
        if transfer.status not in CANCELABLE:
            raise BrokerApiError(422, f"transfer is {transfer.status} and cannot be canceled", code=42210000)
        self._finish_failed(transfer, "CANCELED", "canceled by request")

    def window_used(self, account_id: str) -> Decimal:
        engine = self._engine
        start = engine.window_start()
        return sum(
            (
                t.amount
                for t in engine.outgoing_transfers(engine.account(account_id))
                if t.created_at > start and t.status not in NEVER_SENT
            ),
            ZERO,
        )

    def _check_outgoing(self, account_id: str, amount: Decimal, over_the_limit: bool) -> None:
        engine = self._engine
        withdrawable = engine.withdrawable(engine.account(account_id))
        if amount > withdrawable:
            raise BrokerApiError(
                403,
                f"insufficient withdrawable cash: requested {amount}, available {withdrawable}",
                code=40310000,
            )
        used = self.window_used(account_id)
        limit = engine.config.daily_outgoing_limit
        if used + amount > limit and not over_the_limit:
            raise BrokerApiError(
                403,
                f"daily ACH limit of {limit} exceeded: {used} already initiated in the last 24 hours",
                code=40310001,
            )

    def _forced_outcome(self, account_id: str, transfer: Transfer) -> str | None:
        account = self._engine.account(account_id)
        count = sum(1 for t in account.transfers if t.direction == transfer.direction) + 1
        for rule in self.outcome_rules:
            if (
                not rule.used
                and rule.nth == count
                and rule.direction == transfer.direction
                and rule.account_id in (None, account_id)
            ):
                rule.used = True
                transfer.forced_reason = rule.reason
                transfer.forced_when = rule.when
                return rule.status
        return None

    # --- status walk ----------------------------------------------------------------------------------------

    def _walk(self) -> list[tuple[str, float]]:
        """Each status after QUEUED, with the seconds spent in the one before it."""
        config = self._engine.config
        queued, clearing = config.transfer_queued_seconds, config.transfer_clearing_seconds
        if config.transfer_walk == "short":
            return [("SENT_TO_CLEARING", queued), ("COMPLETE", clearing)]
        third, last = queued / 3, clearing / 12
        walk = [
            ("APPROVAL_PENDING", third),
            ("PENDING", third),
            ("SENT_TO_CLEARING", third),
            ("APPROVED", clearing - last),
            ("COMPLETE", last),
        ]
        if config.transfer_walk == "settled":
            walk[-1:] = [("SETTLED", last / 2), ("COMPLETE", last / 2)]
        return walk

    def _advance(self, transfer: Transfer, leaving: str, steps: list[tuple[str, float]]) -> None:
        """Move on from `leaving` to the next status, unless a forced failure ends the transfer here."""
        if transfer.status != leaving:
            return  # canceled, or already ended by another path
        if transfer.forced_outcome in NEVER_SENT and transfer.forced_when == leaving:
            self._finish_failed(transfer, transfer.forced_outcome, transfer.forced_reason or "rejected")
            return
        status, _ = steps[0]
        self._set_status(transfer, status)
        if status == "COMPLETE":
            self._completed(transfer)
            return
        self._schedule_next(transfer, steps[1:])

    def _schedule_next(self, transfer: Transfer, steps: list[tuple[str, float]]) -> None:
        engine = self._engine
        config = engine.config
        status, seconds = steps[0]
        start = engine.clock_now
        if config.bank_calendar and transfer.status == "QUEUED":
            start = cal.ach_start(start, config.ach_cutoff, config.ach_day_starts)
        at = start + timedelta(seconds=seconds)
        if config.bank_calendar and status == "COMPLETE":
            at = cal.on_a_bank_day(at, config.ach_day_starts)
        engine.schedule(at, partial(self._advance, transfer, transfer.status, steps))

    def _completed(self, transfer: Transfer) -> None:
        if transfer.direction == "INCOMING":
            self._engine.account(transfer.account_id).cash += transfer.amount
        if transfer.forced_outcome == "RETURNED":
            delay = timedelta(seconds=self._engine.config.transfer_return_seconds)
            reason = transfer.forced_reason or "returned by the bank"
            self._engine.schedule(
                self._engine.clock_now + delay, partial(self._finish_failed, transfer, "RETURNED", reason)
            )

    def _finish_failed(self, transfer: Transfer, status: str, reason: str) -> None:
        account = self._engine.account(transfer.account_id)
        was_complete = transfer.status == "COMPLETE"
        transfer.reason = reason
        self._set_status(transfer, status)
        if transfer.direction == "OUTGOING":
            account.cash += transfer.amount
        elif was_complete:
            account.cash -= transfer.amount

    def _set_status(self, transfer: Transfer, status: str) -> None:
        previous = transfer.status
        now = self._engine.clock_now
        transfer.status, transfer.updated_at = status, now
        transfer.ledger.status, transfer.ledger.updated_at = status, now
        self._event(transfer, previous)

    def _event(self, transfer: Transfer, status_from: str) -> None:
        """On the legacy transfer stream and on the v2 funding stream that replaces it."""
        change = {"status_from": status_from, "status_to": transfer.status}
        self._engine.publish("transfers", transfer.account_id, transfer_id=transfer.id, **change)
        self._engine.publish(
            "funding", transfer.account_id, entity_type="Transfer", entity_id=transfer.id, **change
        )
