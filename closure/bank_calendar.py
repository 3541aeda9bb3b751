"""Bank business days: when ACH moves, by the Federal Reserve's holiday calendar.

It differs from the exchange's: the Fed closes on Columbus Day and Veterans Day (the NYSE trades), and opens
on Good Friday (the NYSE closes). A holiday on a Sunday is observed the Monday after; one on a Saturday is not
moved to the Friday (the Fed's own rule). Pure functions, so workflow code may use them.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

NEW_YORK = ZoneInfo("America/New_York")


def _nth_weekday(year: int, month: int, weekday: int, n: int) -> date:
    first = date(year, month, 1)
    return first + timedelta(days=(weekday - first.weekday()) % 7 + 7 * (n - 1))


def _last_weekday(year: int, month: int, weekday: int) -> date:
    last = date(year + month // 12, month % 12 + 1, 1) - timedelta(days=1)
    return last - timedelta(days=(last.weekday() - weekday) % 7)


def _observed(day: date) -> date | None:
    if day.weekday() == 6:
        return day + timedelta(days=1)
    return None if day.weekday() == 5 else day


@lru_cache(maxsize=64)
def fed_holidays(year: int) -> frozenset[date]:
    monday, thursday = 0, 3
    fixed = [date(year, 1, 1), date(year, 6, 19), date(year, 7, 4), date(year, 11, 11), date(year, 12, 25)]
    moving = [
        _nth_weekday(year, 1, monday, 3),  # Martin Luther King Jr. Day
        _nth_weekday(year, 2, monday, 3),  # Washington's Birthday
        _last_weekday(year, 5, monday),  # Memorial Day
        _nth_weekday(year, 9, monday, 1),  # Labor Day
        _nth_weekday(year, 10, monday, 2),  # Columbus Day
        _nth_weekday(year, 11, thursday, 4),  # Thanksgiving
    ]
    observed = (_observed(d) for d in fixed)
    return frozenset([*(d for d in observed if d is not None), *moving])


def is_bank_day(day: date) -> bool:
    return day.weekday() < 5 and day not in fed_holidays(day.year)


def add_bank_days(day: date, n: int) -> date:
    """The nth bank business day after `day` (n >= 0; 0 is `day` itself)."""
    while n > 0:
        day += timedelta(days=1)
        if is_bank_day(day):
            n -= 1
    return day


def bank_days_after(moment: datetime, n: int) -> datetime:
    """The same New York time of day, n bank business days after `moment`."""
    local = moment.astimezone(NEW_YORK)
    return datetime.combine(add_bank_days(local.date(), n), local.timetz().replace(tzinfo=None), NEW_YORK)


ACH_CUTOFF = time(14, 0)  # New York time: an ACH created later starts the next bank day
ACH_DAY_ENDS = time(17, 0)  # New York time by which a day's ACH has landed


def ach_start_day(moment: datetime) -> date:
    """The bank day an ACH created at `moment` starts moving: that day if it is a bank day and before the
    cut-off, else the next bank day."""
    local = moment.astimezone(NEW_YORK)
    if is_bank_day(local.date()) and local.time() < ACH_CUTOFF:
        return local.date()
    return add_bank_days(local.date(), 1)


def on_or_after_bank_day(day: date) -> date:
    return day if is_bank_day(day) else add_bank_days(day, 1)


def ach_lands_by(created: datetime, bank_days: int = 1) -> datetime:
    """When an ACH created at `created` should be at the bank: `bank_days` after the day it starts moving."""
    return datetime.combine(add_bank_days(ach_start_day(created), bank_days), ACH_DAY_ENDS, NEW_YORK)


ARRIVAL_BANK_DAYS = 3  # ACH lands in one to three bank days; a customer is told the latest


def expected_at_bank(sent_at: datetime) -> date:
    """The bank day by which an ACH sent at `sent_at` should be at the customer's bank, as every email and
    page tells it: the cut-off, weekends and the Fed's holidays counted."""
    return ach_lands_by(sent_at, ARRIVAL_BANK_DAYS).date()
