"""An honest time estimate for the initiation email, from the account as it is when the closure starts.

Business days here skip weekends only (holidays can add a day); the range covers ACH taking one to
three business days to land.
"""

from __future__ import annotations

import math
from datetime import date, timedelta

from closure.broker_types import AccountView
from closure.email_facts import ClosureEstimate
from closure.money import format_usd
from closure.policy import ClosurePolicy


def add_business_days(day: date, n: int) -> date:
    while n > 0:
        day += timedelta(days=1)
        if day.weekday() < 5:
            n -= 1
    return day


def estimate(view: AccountView, policy: ClosurePolicy, today: date) -> ClosureEstimate:
    total = view.cash + view.long_market_value
    if total <= 0 and view.is_flat:
        return ClosureEstimate(
            transfers=0,
            earliest=today,
            latest=today,
            steps=["Close the account today: nothing is left in it."],
        )
    steps, first_transfer = [], today
    if not view.is_flat:
        sells_on = today if view.clock.is_open else view.clock.next_open.date()
        when = (
            "now, at market prices"
            if view.clock.is_open
            else f"when the market opens on {sells_on:%A, %B %-d}"
        )
        steps.append(f"Cancel open orders and sell your {len(view.positions)} position(s) {when}.")
        first_transfer = add_business_days(sells_on, 1)
        steps.append(
            f"Wait one business day for the sales to settle (T+1), until {first_transfer:%A, %B %-d}."
        )
    transfers = max(1, math.ceil(total / policy.daily_transfer_limit))
    spacing_days = math.ceil(policy.transfer_spacing / timedelta(days=1))
    last_transfer = first_transfer + timedelta(days=(transfers - 1) * spacing_days)
    steps.append(
        f"Send about {format_usd(total)} in {transfers} transfer(s) of up to "
        f"{format_usd(policy.daily_transfer_limit)}, one a day, from {first_transfer:%A, %B %-d}."
    )
    steps.append(
        "Close the account once the last transfer has reached your bank (usually 1–3 business days)."
    )
    return ClosureEstimate(
        transfers=transfers,
        earliest=add_business_days(last_transfer, 1),
        latest=add_business_days(last_transfer, 3),
        steps=steps,
    )
