"""NYSE trading days, hours, holidays and early closes, computed from the exchange's rules.

Regular session 09:30-16:00 America/New_York; early close 13:00 on the day before Independence Day, the day
after Thanksgiving and Christmas Eve. One-off closures (national days of mourning) are not modelled.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

NEW_YORK = ZoneInfo("America/New_York")
REGULAR_OPEN = time(9, 30)
REGULAR_CLOSE = time(16, 0)
EARLY_CLOSE = time(13, 0)


@dataclass(frozen=True)
class TradingDay:
    day: date
    open: time
    close: time

    @property
    def opens_at(self) -> datetime:
        return datetime.combine(self.day, self.open, NEW_YORK)

    @property
    def closes_at(self) -> datetime:
        return datetime.combine(self.day, self.close, NEW_YORK)


def _easter(year: int) -> date:
    """Gregorian Easter Sunday (anonymous algorithm)."""
    a, b, c = year % 19, year // 100, year % 100
    d, e = b // 4, b % 4
    f = (b + 8) // 25
    g = (b - f + 1) // 3
    h = (19 * a + b - d - g + 15) % 30
    i, k = c // 4, c % 4
    l_ = (32 + 2 * e + 2 * i - h - k) % 7
    m = (a + 11 * h + 22 * l_) // 451
    month = (h + l_ - 7 * m + 114) // 31
    day = ((h + l_ - 7 * m + 114) % 31) + 1
    return date(year, month, day)


def _nth_weekday(year: int, month: int, weekday: int, n: int) -> date:
    first = date(year, month, 1)
    offset = (weekday - first.weekday()) % 7
    return first + timedelta(days=offset + 7 * (n - 1))


def _last_weekday(year: int, month: int, weekday: int) -> date:
    nxt = date(year + (month == 12), month % 12 + 1, 1)
    last = nxt - timedelta(days=1)
    return last - timedelta(days=(last.weekday() - weekday) % 7)


def _observed(day: date) -> date:
    """Saturday holidays move to Friday, Sunday holidays to Monday."""
    if day.weekday() == 5:
        return day - timedelta(days=1)
    if day.weekday() == 6:
        return day + timedelta(days=1)
    return day


@lru_cache(maxsize=64)
def holidays(year: int) -> frozenset[date]:
    days = {
        _nth_weekday(year, 1, 0, 3),  # Martin Luther King Jr. Day
        _nth_weekday(year, 2, 0, 3),  # Washington's Birthday
        _easter(year) - timedelta(days=2),  # Good Friday
        _last_weekday(year, 5, 0),  # Memorial Day
        _observed(date(year, 7, 4)),  # Independence Day
        _nth_weekday(year, 9, 0, 1),  # Labor Day
        _nth_weekday(year, 11, 3, 4),  # Thanksgiving
        _observed(date(year, 12, 25)),  # Christmas
    }
    new_year = date(year, 1, 1)
    if new_year.weekday() != 5:  # NYSE does not close on the Friday before a Saturday New Year's Day
        days.add(_observed(new_year))
    if year >= 2022:
        days.add(_observed(date(year, 6, 19)))  # Juneteenth
    return frozenset(d for d in days if d.year == year)


@lru_cache(maxsize=64)
def early_closes(year: int) -> frozenset[date]:
    candidates = {
        date(year, 7, 3),
        _nth_weekday(year, 11, 3, 4) + timedelta(days=1),
        date(year, 12, 24),
    }
    return frozenset(d for d in candidates if is_trading_day(d))


def is_trading_day(day: date) -> bool:
    return day.weekday() < 5 and day not in holidays(day.year)


def trading_day(day: date) -> TradingDay | None:
    if not is_trading_day(day):
        return None
    close = EARLY_CLOSE if day in early_closes(day.year) else REGULAR_CLOSE
    return TradingDay(day, REGULAR_OPEN, close)


def trading_days(start: date, end: date) -> list[TradingDay]:
    """Trading days from start to end, both inclusive."""
    days: list[TradingDay] = []
    current = start
    while current <= end:
        found = trading_day(current)
        if found:
            days.append(found)
        current += timedelta(days=1)
    return days


def next_trading_day(after: date) -> TradingDay:
    current = after + timedelta(days=1)
    while (found := trading_day(current)) is None:
        current += timedelta(days=1)
    return found


def add_business_days(day: date, n: int) -> date:
    current = day
    for _ in range(n):
        current = next_trading_day(current).day
    return current


def add_settlement_days(day: date, n: int) -> date:
    """T+n counted on days both the exchange and the banks are open (settlement needs both)."""
    current = day
    for _ in range(n):
        current = next_trading_day(current).day
        while not is_bank_day(current):
            current = next_trading_day(current).day
    return current


@dataclass(frozen=True)
class MarketClock:
    timestamp: datetime
    is_open: bool
    next_open: datetime
    next_close: datetime


def market_clock(now: datetime) -> MarketClock:
    local = now.astimezone(NEW_YORK)
    today = trading_day(local.date())
    if today and today.opens_at <= local < today.closes_at:
        following = next_trading_day(local.date())
        return MarketClock(local, True, following.opens_at, today.closes_at)
    upcoming = today if today and local < today.opens_at else next_trading_day(local.date())
    return MarketClock(local, False, upcoming.opens_at, upcoming.closes_at)


def previous_close(now: datetime) -> datetime:
    """The most recent regular or early close at or before `now`."""
    local = now.astimezone(NEW_YORK)
    today = trading_day(local.date())
    if today and today.closes_at <= local:
        return today.closes_at
    current = local.date() - timedelta(days=1)
    while (found := trading_day(current)) is None:
        current -= timedelta(days=1)
    return found.closes_at


# --- the banking calendar: when ACH moves ---------------------------------------------------------------------
# The Federal Reserve's holidays differ from the exchange's: Columbus Day and Veterans Day are bank holidays
# (the NYSE trades), Good Friday is not (the NYSE closes). A Sunday holiday is observed on the Monday; a
# Saturday one is not moved. Kept apart from the service's own calendar on purpose: two implementations of
# the rule check each other.


@lru_cache(maxsize=64)
def bank_holidays(year: int) -> frozenset[date]:
    fixed = [date(year, 1, 1), date(year, 6, 19), date(year, 7, 4), date(year, 11, 11), date(year, 12, 25)]
    observed = {d + timedelta(days=1) if d.weekday() == 6 else d for d in fixed if d.weekday() != 5}
    return frozenset(
        observed
        | {
            _nth_weekday(year, 1, 0, 3),  # Martin Luther King Jr. Day
            _nth_weekday(year, 2, 0, 3),  # Washington's Birthday
            _last_weekday(year, 5, 0),  # Memorial Day
            _nth_weekday(year, 9, 0, 1),  # Labor Day
            _nth_weekday(year, 10, 0, 2),  # Columbus Day
            _nth_weekday(year, 11, 3, 4),  # Thanksgiving
        }
    )


def is_bank_day(day: date) -> bool:
    return day.weekday() < 5 and day not in bank_holidays(day.year)


def next_bank_day(after: date) -> date:
    day = after + timedelta(days=1)
    while not is_bank_day(day):
        day += timedelta(days=1)
    return day


def ach_start(created: datetime, cutoff: time, opens: time) -> datetime:
    """When ACH starts working a transfer: now on a bank day before the cut-off, else the next bank day."""
    local = created.astimezone(NEW_YORK)
    if is_bank_day(local.date()) and local.time() < cutoff:
        return created
    return datetime.combine(next_bank_day(local.date()), opens, NEW_YORK)


def on_a_bank_day(moment: datetime, opens: time) -> datetime:
    """`moment` if it falls on a bank day, else the next bank day's opening."""
    local = moment.astimezone(NEW_YORK)
    if is_bank_day(local.date()):
        return moment
    return datetime.combine(next_bank_day(local.date()), opens, NEW_YORK)
