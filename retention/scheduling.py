"""Dates of retention: the cutoff of a run and the cadence of a rule.

Cutoffs fall on midnight in the controller's time zone, so every run of a rule
on the same day sweeps exactly the same rows: a row is kept for the whole
period, counted in calendar days, months or years, and goes on the day after.
Month and year arithmetic clamps to the end of the month (31 March minus one
month is 28 or 29 February, never 3 March).
"""

from __future__ import annotations

import calendar
from datetime import date, datetime, time, timedelta

from celery.schedules import crontab
from django.conf import settings
from django.utils import timezone

CADENCE_FIELDS = ("minute", "hour", "day_of_month", "month_of_year", "day_of_week")


def parse_cadence(expression: str) -> dict[str, str]:
    """Split a five-field crontab expression, refusing anything celery would not run."""
    parts = expression.split()
    if len(parts) != 5:
        raise ValueError(
            "Give the cadence as five crontab fields: minute hour day-of-month month day-of-week, e.g. '30 2 * * *'."
        )
    fields = dict(zip(CADENCE_FIELDS, parts, strict=True))
    try:
        crontab(**fields)
    except Exception as exc:  # celery raises ValueError or its own ParseException
        raise ValueError(f"The cadence '{expression}' is not a valid crontab: {exc}") from None
    return fields


def subtract_period(day: date, amount: int, unit: str) -> date:
    """``day`` minus a period in calendar units, clamped to the end of a shorter month."""
    if unit == "days":
        return day - timedelta(days=amount)
    months = amount * (12 if unit == "years" else 1)
    if unit not in {"months", "years"}:
        raise ValueError(f"unknown period unit {unit!r}")
    index = day.year * 12 + (day.month - 1) - months
    year, month = divmod(index, 12)
    month += 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def financial_year_start() -> tuple[int, int]:
    """(month, day) on which the financial year starts: the day after ``RETENTION_FINANCIAL_YEAR_END``."""
    month, day = settings.RETENTION_FINANCIAL_YEAR_END
    start = date(2001, month, day) + timedelta(days=1)
    return start.month, start.day


def year_boundary_on_or_before(day: date, start: tuple[int, int]) -> date:
    """The latest date on or before ``day`` that starts a year beginning on ``start`` (month, day)."""
    candidate = date(day.year, *start)
    return candidate if candidate <= day else date(day.year - 1, *start)


def local_midnight(day: date) -> datetime:
    return timezone.make_aware(datetime.combine(day, time.min), timezone.get_default_timezone())


def rule_cutoff(*, period: int, unit: str, anchor: str, now: datetime | None = None) -> datetime:
    """The instant before which a rule's rows are due, for a run at ``now``.

    With the ``trigger`` anchor a row whose trigger falls on day D is kept
    through day D + period and swept from the next day. With a year-end anchor
    the period counts from the end of the (financial or calendar) year the
    trigger falls in, so the cutoff is the start of that year.
    """
    today = timezone.localtime(now or timezone.now()).date()
    limit = subtract_period(today, period, unit)
    if anchor == "financial_year_end":
        limit = year_boundary_on_or_before(limit, financial_year_start())
    elif anchor == "calendar_year_end":
        limit = year_boundary_on_or_before(limit, (1, 1))
    elif anchor != "trigger":
        raise ValueError(f"unknown period anchor {anchor!r}")
    return local_midnight(limit)


def rule_keep_until(*, trigger: date, period: int, unit: str, anchor: str) -> date:
    """The last day a row whose trigger falls on ``trigger`` is kept: ``rule_cutoff`` read the other way.

    A run on the next day has a cutoff after the trigger and sweeps the row. With a year-end anchor the
    period counts from the last day of the (financial or calendar) year the trigger falls in.
    """
    if anchor == "financial_year_end":
        start = year_boundary_on_or_before(trigger, financial_year_start())
        base = date(start.year + 1, start.month, start.day) - timedelta(days=1)
    elif anchor == "calendar_year_end":
        base = date(trigger.year, 12, 31)
    elif anchor == "trigger":
        base = trigger
    else:
        raise ValueError(f"unknown period anchor {anchor!r}")
    return subtract_period(base, -period, unit)


def next_run_at(schedule: crontab, last_run_at: datetime | None, now: datetime | None = None) -> datetime:
    """When beat will next start a task on ``schedule``."""
    now = now or timezone.now()
    schedule = crontab(
        minute=schedule._orig_minute,
        hour=schedule._orig_hour,
        day_of_week=schedule._orig_day_of_week,
        day_of_month=schedule._orig_day_of_month,
        month_of_year=schedule._orig_month_of_year,
        nowfun=lambda: timezone.localtime(now),
    )
    reference = timezone.localtime(last_run_at or now)
    return timezone.localtime(now) + schedule.remaining_estimate(reference)
