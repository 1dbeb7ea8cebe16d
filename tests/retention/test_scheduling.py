"""Cutoffs fall on local midnight, count calendar units, and anchor to year ends where the law says so."""

from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest
import time_machine
from celery.schedules import crontab
from django.test import override_settings

from retention.scheduling import next_run_at, parse_cadence, rule_cutoff, subtract_period

LONDON = ZoneInfo("Europe/London")


def at(*args) -> datetime:
    return datetime(*args, tzinfo=LONDON)


def test_cutoff_is_local_midnight_period_days_before_today_whatever_the_hour():
    for hour in (0, 9, 23):
        with time_machine.travel(at(2026, 3, 15, hour, 30), tick=False):
            assert rule_cutoff(period=30, unit="days", anchor="trigger") == at(2026, 2, 13)


def test_cutoff_moves_exactly_at_local_midnight():
    with time_machine.travel(at(2026, 3, 15, 23, 59, 59), tick=False):
        before = rule_cutoff(period=30, unit="days", anchor="trigger")
    with time_machine.travel(at(2026, 3, 16, 0, 0, 0), tick=False):
        after = rule_cutoff(period=30, unit="days", anchor="trigger")
    assert (before, after) == (at(2026, 2, 13), at(2026, 2, 14))


def test_cutoff_in_summer_time_is_midnight_in_london_not_utc():
    with time_machine.travel(at(2026, 7, 20, 12), tick=False):
        cutoff = rule_cutoff(period=90, unit="days", anchor="trigger")
    assert cutoff == at(2026, 4, 21)
    assert cutoff.utcoffset().total_seconds() == 3600  # 23:00 UTC the day before


def test_months_clamp_to_the_end_of_a_shorter_month():
    assert subtract_period(date(2026, 3, 31), 1, "months") == date(2026, 2, 28)
    assert subtract_period(date(2024, 3, 31), 1, "months") == date(2024, 2, 29)
    assert subtract_period(date(2026, 3, 31), 13, "months") == date(2025, 2, 28)
    assert subtract_period(date(2028, 2, 29), 1, "years") == date(2027, 2, 28)
    assert subtract_period(date(2026, 1, 15), 24, "months") == date(2024, 1, 15)


def test_six_years_after_the_financial_year_keeps_the_whole_year_until_six_years_after_its_end():
    # Financial year ending 31 March (the default): the year 1 April 2019 - 31 March 2020
    # may be deleted from 1 April 2026, not a day earlier.
    with time_machine.travel(at(2026, 3, 31, 18), tick=False):
        assert rule_cutoff(period=6, unit="years", anchor="financial_year_end") == at(2019, 4, 1)
    with time_machine.travel(at(2026, 4, 1, 0, 0, 1), tick=False):
        assert rule_cutoff(period=6, unit="years", anchor="financial_year_end") == at(2020, 4, 1)


@override_settings(RETENTION_FINANCIAL_YEAR_END=(12, 31))
def test_financial_year_end_comes_from_settings():
    with time_machine.travel(at(2026, 6, 1, 12), tick=False):
        assert rule_cutoff(period=6, unit="years", anchor="financial_year_end") == at(2020, 1, 1)


def test_calendar_year_anchor_counts_from_the_end_of_the_calendar_year():
    # Germany: 8 years from the end of the calendar year of the voucher.
    with time_machine.travel(at(2026, 6, 1, 12), tick=False):
        assert rule_cutoff(period=8, unit="years", anchor="calendar_year_end") == at(2018, 1, 1)


def test_cadence_must_be_five_valid_crontab_fields():
    assert parse_cadence("30 2 * * *")["hour"] == "2"
    with pytest.raises(ValueError, match="five crontab fields"):
        parse_cadence("daily")
    with pytest.raises(ValueError, match="not a valid crontab"):
        parse_cadence("99 2 * * *")


def test_next_run_is_the_next_cadence_time_after_the_last_run():
    schedule = crontab(minute="30", hour="2")
    with time_machine.travel(at(2026, 3, 15, 10), tick=False):
        assert next_run_at(schedule, None) == at(2026, 3, 16, 2, 30)
        assert next_run_at(schedule, at(2026, 3, 15, 2, 30)) == at(2026, 3, 16, 2, 30)
