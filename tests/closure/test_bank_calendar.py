"""The Federal Reserve's holidays, against its published lists, and bank-day arithmetic."""

from __future__ import annotations

from datetime import date, datetime

from closure.bank_calendar import NEW_YORK, add_bank_days, bank_days_after, fed_holidays, is_bank_day


def test_2025_and_2026_holidays_match_the_published_lists() -> None:
    assert sorted(fed_holidays(2025)) == [
        date(2025, 1, 1), date(2025, 1, 20), date(2025, 2, 17), date(2025, 5, 26), date(2025, 6, 19),
        date(2025, 7, 4), date(2025, 9, 1), date(2025, 10, 13), date(2025, 11, 11), date(2025, 11, 27),
        date(2025, 12, 25),
    ]  # fmt: skip
    # 2026: July 4 is a Saturday, which the Fed does not move to the Friday.
    assert sorted(fed_holidays(2026)) == [
        date(2026, 1, 1), date(2026, 1, 19), date(2026, 2, 16), date(2026, 5, 25), date(2026, 6, 19),
        date(2026, 9, 7), date(2026, 10, 12), date(2026, 11, 11), date(2026, 11, 26), date(2026, 12, 25),
    ]  # fmt: skip


def test_a_sunday_holiday_is_observed_on_monday() -> None:
    assert date(2027, 7, 5) in fed_holidays(2027)
    assert not is_bank_day(date(2027, 7, 5))


def test_bank_days_skip_weekends_and_the_days_the_exchange_trades_but_banks_do_not() -> None:
    assert is_bank_day(date(2025, 4, 18))  # Good Friday: the NYSE is closed, ACH moves
    assert not is_bank_day(date(2025, 10, 13))  # Columbus Day: the NYSE trades, ACH does not
    assert add_bank_days(date(2025, 10, 10), 1) == date(2025, 10, 14)  # Friday -> (weekend, holiday) -> Tue
    assert add_bank_days(date(2025, 11, 10), 2) == date(2025, 11, 13)  # over Veterans Day
    assert add_bank_days(date(2025, 11, 10), 0) == date(2025, 11, 10)


def test_bank_days_after_keeps_the_new_york_time_of_day() -> None:
    completed = datetime(2025, 11, 26, 15, 30, tzinfo=NEW_YORK)  # eve of Thanksgiving
    assert bank_days_after(completed, 3) == datetime(2025, 12, 2, 15, 30, tzinfo=NEW_YORK)
