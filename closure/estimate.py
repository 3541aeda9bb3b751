"""An honest time estimate for the initiation email, from the account as it is when the closure starts.

ACH moves on bank business days (the Federal Reserve's calendar) and a transfer made after the 2:00 PM ET
cut-off starts the next one; sales settle the next bank day. The range covers ACH taking one to three bank
days to land.
"""

from __future__ import annotations

import math
from datetime import date, timedelta

from closure.bank_calendar import ach_start_day, add_bank_days, on_or_after_bank_day
from closure.broker_types import AccountView
from closure.email_facts import ClosureEstimate
from closure.money import format_usd
from closure.policy import ClosurePolicy


def estimate(view: AccountView, policy: ClosurePolicy, today: date) -> ClosureEstimate:
    total = view.cash + view.long_market_value
    if total <= 0 and view.is_flat:
        return ClosureEstimate(
            transfers=0,
            earliest=today,
            latest=today,
            steps=["Close the account today: nothing is left in it."],
        )
    steps, first_transfer = [], ach_start_day(view.clock.now)
    if not view.is_flat:
        sells_on = today if view.clock.is_open else view.clock.next_open.date()
        when = (
            "now, at market prices"
            if view.clock.is_open
            else f"when the market opens on {sells_on:%A, %B %-d}"
        )
        steps.append(f"Cancel open orders and sell your {len(view.positions)} position(s) {when}.")
        first_transfer = add_bank_days(sells_on, 1)
        steps.append(
            f"Wait one business day for the sales to settle (T+1), until {first_transfer:%A, %B %-d}."
        )
    transfers = max(1, math.ceil(total / policy.daily_transfer_limit))
    spacing_days = math.ceil(policy.transfer_spacing / timedelta(days=1))
    last_transfer = on_or_after_bank_day(first_transfer + timedelta(days=(transfers - 1) * spacing_days))
    steps.append(
        f"Send about {format_usd(total)} in {transfers} transfer(s) of up to "
        f"{format_usd(policy.daily_transfer_limit)}, one a day, from {first_transfer:%A, %B %-d}."
    )
    steps.append("Close the account once the last transfer has reached your bank (usually 1–3 bank days).")
    return ClosureEstimate(
        transfers=transfers,
        earliest=add_bank_days(last_transfer, 1),
        latest=add_bank_days(last_transfer, 3),
        steps=steps,
    )
