"""NYSE days and hours, checked against the exchange's published holiday and early-close lists."""

from __future__ import annotations

from datetime import date, datetime, time

import pytest

from simulator import market_calendar as cal
from tests.support import ny

NYSE_HOLIDAYS = {
    2025: [
        date(2025, 1, 1), date(2025, 1, 20), date(2025, 2, 17), date(2025, 4, 18), date(2025, 5, 26),
        date(2025, 6, 19), date(2025, 7, 4), date(2025, 9, 1), date(2025, 11, 27), date(2025, 12, 25),
    ],
    2026: [
        date(2026, 1, 1), date(2026, 1, 19), date(2026, 2, 16), date(2026, 4, 3), date(2026, 5, 25),
        date(2026, 6, 19), date(2026, 7, 3), date(2026, 9, 7), date(2026, 11, 26), date(2026, 12, 25),
    ],
}  # fmt: skip
NYSE_EARLY_CLOSES = {
    2025: [date(2025, 7, 3), date(2025, 11, 28), date(2025, 12, 24)],
    2026: [date(2026, 11, 27), date(2026, 12, 24)],
}


@pytest.mark.parametrize("year", sorted(NYSE_HOLIDAYS))
def test_holidays_match_the_published_list(year: int) -> None:
    assert sorted(cal.holidays(year)) == NYSE_HOLIDAYS[year]


@pytest.mark.parametrize("year", sorted(NYSE_EARLY_CLOSES))
def test_early_closes_match_the_published_list(year: int) -> None:
    assert sorted(cal.early_closes(year)) == NYSE_EARLY_CLOSES[year]
    for day in NYSE_EARLY_CLOSES[year]:
        found = cal.trading_day(day)
        assert found is not None
        assert found.close == time(13, 0)


def test_saturday_new_year_is_not_observed_on_the_friday_before() -> None:
    assert cal.is_trading_day(date(2021, 12, 31))
    assert date(2022, 1, 1) not in cal.holidays(2022)


@pytest.mark.parametrize(
    ("now", "is_open", "next_open", "next_close"),
    [
        (
            ny(2025, 1, 17, 12, 0),
            True,
            ny(2025, 1, 21, 9, 30),
            ny(2025, 1, 17, 16, 0),
        ),  # Friday, MLK Monday next
        (ny(2025, 1, 17, 18, 0), False, ny(2025, 1, 21, 9, 30), ny(2025, 1, 21, 16, 0)),
        (ny(2025, 1, 21, 9, 29), False, ny(2025, 1, 21, 9, 30), ny(2025, 1, 21, 16, 0)),
        (ny(2025, 1, 21, 9, 30), True, ny(2025, 1, 22, 9, 30), ny(2025, 1, 21, 16, 0)),
        (
            ny(2025, 11, 28, 13, 30),
            False,
            ny(2025, 12, 1, 9, 30),
            ny(2025, 12, 1, 16, 0),
        ),  # after an early close
    ],
)
def test_market_clock(now: datetime, is_open: bool, next_open: datetime, next_close: datetime) -> None:
    clock = cal.market_clock(now)
    assert (clock.is_open, clock.next_open, clock.next_close) == (is_open, next_open, next_close)


def test_business_days_skip_weekends_and_holidays() -> None:
    assert cal.add_business_days(date(2025, 11, 26), 1) == date(2025, 11, 28)
    assert cal.add_business_days(date(2025, 1, 17), 1) == date(2025, 1, 21)
    assert cal.add_business_days(date(2025, 3, 10), 5) == date(2025, 3, 17)
