"""JNLC cash journals: a second way cash leaves an account, besides ACH.

As the Broker API FAQ has it, a journal up to the instant limit ($50 by default) executes at once and a larger
one at the next day's beginning of business; the daily limit ($1,000 by default) caps what one account sends
in 24 h. The cash leaves the sender when the journal is created (it moves `cash_transferable`), and comes
back if a queued journal is canceled.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal
from functools import partial
from typing import TYPE_CHECKING, Any

from simulator import market_calendar as cal
from simulator.model import ZERO, Account, BrokerApiError, Journal, whole_cents

if TYPE_CHECKING:
    from simulator.engine import BrokerEngine

NEVER_MOVED = frozenset({"rejected", "canceled"})


class JournalDesk:
    def __init__(self, engine: BrokerEngine) -> None:
        self._engine = engine
        self.journals: dict[str, Journal] = {}

    def create(self, body: dict[str, Any]) -> Journal:
        engine = self._engine
        if str(body.get("entry_type", "")).upper() != "JNLC":
            raise BrokerApiError(422, "only JNLC (cash) journals are simulated", code=42210000)
        sender = self._party(body, "from_account")
        receiver = self._party(body, "to_account")
        if sender.id == receiver.id:
            raise BrokerApiError(422, "from_account and to_account must differ", code=42210000)
        if sender.status != "ACTIVE" or sender.account_blocked:
            raise BrokerApiError(403, f"from_account is {sender.status}", code=40310000)
        amount = whole_cents(body.get("amount"))
        transferable = engine.withdrawable(sender)
        if amount > transferable:
            raise BrokerApiError(
                403, f"insufficient cash_transferable: requested {amount}, available {transferable}"
            )
        sent_today = self.sent_in_window(sender.id)
        if sent_today + amount > engine.config.journal_daily_limit:
            raise BrokerApiError(
                403,
                f"JNLC daily limit of {engine.config.journal_daily_limit} exceeded: {sent_today} sent in 24 h",
                code=40310002,
            )
        now = engine.clock_now
        journal_id = str(uuid.uuid4())
        sender.cash -= amount
        entry = engine.record(
            sender, "journal_out", amount, "queued", note=f"JNLC {journal_id} to {receiver.id}"
        )
        journal = Journal(
            id=journal_id,
            from_account=sender.id,
            to_account=receiver.id,
            amount=amount,
            status="queued",
            created_at=now,
            updated_at=now,
            description=body.get("description"),
            out_entry=entry,
        )
        self.journals[journal.id] = journal
        self._event(journal, "")
        if amount <= engine.config.journal_instant_limit:
            self._execute(journal)
        else:
            engine.schedule(self._next_business_open(now), partial(self._execute, journal))
        return journal

    def sent_in_window(self, account_id: str) -> Decimal:
        start = self._engine.window_start()
        return sum(
            (
                j.amount
                for j in self.journals.values()
                if j.from_account == account_id and j.created_at > start and j.status not in NEVER_MOVED
            ),
            ZERO,
        )

    def get(self, journal_id: str) -> Journal:
        try:
            return self.journals[journal_id]
        except KeyError:
            raise BrokerApiError(404, "journal not found", code=40410000) from None

    def cancel(self, journal_id: str) -> None:
        journal = self.get(journal_id)
        if journal.status != "queued":
            raise BrokerApiError(422, f"journal is {journal.status} and cannot be canceled", code=42210000)
        self._set(journal, "canceled")
        self._engine.account(journal.from_account).cash += journal.amount

    def _execute(self, journal: Journal) -> None:
        if journal.status != "queued":
            return
        engine = self._engine
        self._set(journal, "executed")
        receiver = engine.account(journal.to_account)
        receiver.cash += journal.amount
        engine.record(
            receiver,
            "journal_in",
            journal.amount,
            "executed",
            note=f"JNLC {journal.id} from {journal.from_account}",
        )

    def _set(self, journal: Journal, status: str) -> None:
        now = self._engine.clock_now
        status_from, journal.status, journal.updated_at = journal.status, status, now
        journal.out_entry.status, journal.out_entry.updated_at = status, now
        self._event(journal, status_from)

    def _event(self, journal: Journal, status_from: str) -> None:
        # Alpaca's journal events name the journal, not its accounts: a listener looks the journal up.
        self._engine.publish(
            "journals",
            None,
            entry_type="JNLC",
            journal_id=journal.id,
            status_from=status_from,
            status_to=journal.status,
        )

    def _next_business_open(self, now: datetime) -> datetime:
        """The next bank business day's beginning of business, New York time."""
        day = cal.next_bank_day(now.astimezone(cal.NEW_YORK).date())
        return datetime.combine(day, self._engine.config.ach_day_starts, cal.NEW_YORK)

    def _party(self, body: dict[str, Any], name: str) -> Account:
        account_id = body.get(name)
        if not account_id or str(account_id) not in self._engine.accounts:
            raise BrokerApiError(
                422, f"{name} {account_id!r} is not an account of this broker", code=42210000
            )
        return self._engine.accounts[str(account_id)]
