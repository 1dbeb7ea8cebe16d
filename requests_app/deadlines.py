"""The deadline engine: pure functions from (regime rule, event ledger) to dates.

Nothing here touches the database. ``RegimeRule.from_regime`` takes a snapshot of
a ``compliance.Regime`` row (and its per-right overrides); ``compute_deadlines``
turns the ledger into the legal due date of every line, the request's due date,
the acknowledgement date and the internal target date.

How the rules read (REGULATIONS.md §1, §2):

- Calendar months (GDPR, UK GDPR): the same date in the month ``n`` months after
  the clock start; the last day of that month if the date does not exist; a day
  that is a weekend or holiday of the regime's calendar moves to the next working
  day when the regime says so. An extension runs ``period + extension`` months
  from the original start, then the same two steps.
- Calendar days: ``n`` days after the clock start (day of receipt is day 0).
- Business days: the ``n``-th working day after the clock start.
- The clock starts on the day of receipt. Where the regime says so (UK GDPR from
  5 Feb 2026) it starts at the latest identity-information-received date, and a
  clarification pauses it from the day it is asked until the day the answer
  arrives; the paused days are added to the due date before rolling to a
  working day. While a clarification is outstanding, the pause runs until
  ``today`` (the due date shown is the earliest it can be).
- An extension counts only if notified on or before the due date that applied
  at the time, and only once; it does not apply to a right with its own period
  (CCPA opt-out and limit: 15 business days, no extension).
- The request's due date is the earliest due date among the lines still open
  (all lines once none is open). The target date is ``internal_margin_days``
  working days before it.
"""

from __future__ import annotations

import calendar
import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache

import holidays

CALENDAR_MONTHS = "calendar_months"
CALENDAR_DAYS = "calendar_days"
BUSINESS_DAYS = "business_days"


@dataclass(frozen=True)
class Period:
    amount: int
    unit: str


@dataclass(frozen=True)
class RegimeRule:
    """What the engine needs from a regime row, detached from the ORM."""

    response: Period
    extension: int | None = None
    acknowledge: Period | None = None
    roll_to_working_day: bool = False
    identity_starts_clock: bool = False
    clarification_pauses_clock: bool = False
    clock_rules_from: dt.date | None = None
    internal_margin_days: int = 0
    holiday_country: str = ""
    holiday_subdivision: str = ""
    right_overrides: dict[str, Period] = field(default_factory=dict)

    @classmethod
    def from_regime(cls, regime, regime_rights: Iterable | None = None) -> RegimeRule:
        """Snapshot ``regime`` (a ``compliance.Regime``) and its ``RegimeRight`` overrides."""
        if regime_rights is None:
            regime_rights = regime.regime_rights.select_related("right")
        overrides = {
            rr.right.slug: Period(rr.response_period, rr.response_unit) for rr in regime_rights if rr.response_period
        }
        acknowledge = (
            Period(regime.acknowledge_period, regime.acknowledge_unit)
            if regime.acknowledge_period is not None and regime.acknowledge_unit
            else None
        )  # 0 is an acknowledgement due the day of receipt (LGPD's simplified reply)
        return cls(
            response=Period(regime.response_period, regime.response_unit),
            extension=regime.extension_period or None,
            acknowledge=acknowledge,
            roll_to_working_day=regime.roll_to_working_day,
            identity_starts_clock=regime.identity_starts_clock,
            clarification_pauses_clock=regime.clarification_pauses_clock,
            clock_rules_from=regime.clock_rules_from,
            internal_margin_days=regime.internal_margin_days,
            holiday_country=regime.holiday_country,
            holiday_subdivision=regime.holiday_subdivision,
            right_overrides=overrides,
        )


@dataclass(frozen=True)
class LedgerEntry:
    """One event of the ledger as the engine sees it: its type and the day it happened."""

    type: str
    on: dt.date


@dataclass(frozen=True)
class Deadlines:
    clock_started_on: dt.date
    paused_days: int
    paused_since: dt.date | None
    is_extended: bool
    extension_notified_on: dt.date | None
    general_due: dt.date
    line_due: dict[str, dt.date]
    due_date: dt.date
    acknowledge_by: dt.date | None
    target_date: dt.date


# ------------------------------------------------------------------------------
# Calendar arithmetic
# ------------------------------------------------------------------------------


@lru_cache(maxsize=64)
def holiday_calendar(country: str, subdivision: str = "") -> holidays.HolidayBase | None:
    """The public holidays of a country (and subdivision), from the ``holidays`` package."""
    if not country:
        return None
    return holidays.country_holidays(country, subdiv=subdivision or None)


def is_working_day(day: dt.date, calendar_: holidays.HolidayBase | None) -> bool:
    return day.weekday() < 5 and (calendar_ is None or day not in calendar_)


def next_working_day(day: dt.date, calendar_: holidays.HolidayBase | None) -> dt.date:
    """``day`` itself if it is a working day, else the first working day after it."""
    while not is_working_day(day, calendar_):
        day += dt.timedelta(days=1)
    return day


def add_business_days(start: dt.date, count: int, calendar_: holidays.HolidayBase | None) -> dt.date:
    """The ``count``-th working day after ``start`` (``start`` itself is not counted)."""
    day = start
    remaining = count
    while remaining > 0:
        day += dt.timedelta(days=1)
        if is_working_day(day, calendar_):
            remaining -= 1
    return day


def subtract_business_days(start: dt.date, count: int, calendar_: holidays.HolidayBase | None) -> dt.date:
    """The ``count``-th working day before ``start``."""
    day = start
    remaining = count
    while remaining > 0:
        day -= dt.timedelta(days=1)
        if is_working_day(day, calendar_):
            remaining -= 1
    return day


def add_calendar_months(start: dt.date, months: int) -> dt.date:
    """The same date ``months`` later; the last day of that month if the date does not exist."""
    month_index = start.month - 1 + months
    year = start.year + month_index // 12
    month = month_index % 12 + 1
    last_day = calendar.monthrange(year, month)[1]
    return dt.date(year, month, min(start.day, last_day))


def add_period(
    start: dt.date,
    period: Period,
    calendar_: holidays.HolidayBase | None,
    *,
    extra_days: int = 0,
    roll_to_working_day: bool = False,
) -> dt.date:
    """``start`` plus ``period``, plus ``extra_days`` of pause, rolled to a working day if asked."""
    if period.unit == CALENDAR_MONTHS:
        day = add_calendar_months(start, period.amount)
    elif period.unit == CALENDAR_DAYS:
        day = start + dt.timedelta(days=period.amount)
    elif period.unit == BUSINESS_DAYS:
        day = add_business_days(start, period.amount, calendar_)
    else:
        raise ValueError(f"Unknown period unit {period.unit!r}")
    day += dt.timedelta(days=extra_days)
    if roll_to_working_day or period.unit == BUSINESS_DAYS:
        day = next_working_day(day, calendar_)
    return day


# ------------------------------------------------------------------------------
# The ledger
# ------------------------------------------------------------------------------


def clock_rules_apply(rule: RegimeRule, received_on: dt.date) -> bool:
    """Whether the identity and pause rules apply to a request received on ``received_on``."""
    return rule.clock_rules_from is None or received_on >= rule.clock_rules_from


def clock_start(rule: RegimeRule, received_on: dt.date, ledger: Sequence[LedgerEntry]) -> dt.date:
    start = received_on
    if rule.identity_starts_clock and clock_rules_apply(rule, received_on):
        for entry in ledger:
            if entry.type == "identity_received" and entry.on > start:
                start = entry.on
    return start


def pauses(
    rule: RegimeRule, received_on: dt.date, ledger: Sequence[LedgerEntry], today: dt.date
) -> tuple[int, dt.date | None]:
    """Days the clock was paused for clarification, and the day an outstanding pause began."""
    if not (rule.clarification_pauses_clock and clock_rules_apply(rule, received_on)):
        return 0, None
    paused = 0
    since: dt.date | None = None
    for entry in sorted(ledger, key=lambda e: e.on):
        if entry.type == "clarification_requested" and since is None:
            since = entry.on
        elif entry.type == "clarification_received" and since is not None:
            paused += max((entry.on - since).days, 0)
            since = None
    if since is not None:
        paused += max((today - since).days, 0)
    return paused, since


def compute_deadlines(
    *,
    rule: RegimeRule,
    received_on: dt.date,
    ledger: Sequence[LedgerEntry],
    rights: Sequence[str],
    open_rights: Sequence[str] | None = None,
    today: dt.date,
) -> Deadlines:
    """Every date of a request, from its regime rule and its ledger.

    ``rights`` are the slugs of the request's lines; ``open_rights`` those still
    open (all of them when ``None``). ``today`` only matters while a clarification
    is outstanding.
    """
    calendar_ = holiday_calendar(rule.holiday_country, rule.holiday_subdivision)
    start = clock_start(rule, received_on, ledger)
    paused_days, paused_since = pauses(rule, received_on, ledger, today)

    general_due = add_period(
        start, rule.response, calendar_, extra_days=paused_days, roll_to_working_day=rule.roll_to_working_day
    )
    extension_on = None
    if rule.extension:
        for entry in sorted(ledger, key=lambda e: e.on):
            if entry.type == "extension_notified" and entry.on <= general_due:
                extension_on = entry.on
                break
    if extension_on is not None:
        extended = Period(rule.response.amount + rule.extension, rule.response.unit)  # type: ignore[operator]
        general_due = add_period(
            start, extended, calendar_, extra_days=paused_days, roll_to_working_day=rule.roll_to_working_day
        )

    line_due: dict[str, dt.date] = {}
    for right in rights:
        override = rule.right_overrides.get(right)
        if override is None:
            line_due[right] = general_due
        else:
            line_due[right] = add_period(
                start, override, calendar_, extra_days=paused_days, roll_to_working_day=rule.roll_to_working_day
            )

    still_open = list(rights if open_rights is None else open_rights)
    candidates = [line_due[r] for r in still_open if r in line_due] or list(line_due.values()) or [general_due]
    due_date = min(candidates)

    acknowledge_by = None
    if rule.acknowledge is not None:
        acknowledge_by = add_period(
            received_on, rule.acknowledge, calendar_, roll_to_working_day=rule.roll_to_working_day
        )

    target_date = subtract_business_days(due_date, rule.internal_margin_days, calendar_)
    target_date = max(target_date, min(start, due_date))
    return Deadlines(
        clock_started_on=start,
        paused_days=paused_days,
        paused_since=paused_since,
        is_extended=extension_on is not None,
        extension_notified_on=extension_on,
        general_due=general_due,
        line_due=line_due,
        due_date=due_date,
        acknowledge_by=acknowledge_by,
        target_date=target_date,
    )


# ------------------------------------------------------------------------------
# SLA state
# ------------------------------------------------------------------------------

ON_TRACK = "on_track"
DUE_SOON = "due_soon"
URGENT = "urgent"
OVERDUE = "overdue"
PAUSED = "paused"
CLOSED = "closed"

SLA_LABELS = {
    ON_TRACK: "On track",
    DUE_SOON: "Due soon",
    URGENT: "Urgent",
    OVERDUE: "Overdue",
    PAUSED: "Paused (clarification)",
    CLOSED: "Answered",
}
DUE_SOON_DAYS = 10
URGENT_DAYS = 5


def sla_state(due_date: dt.date | None, today: dt.date, *, is_open: bool = True, paused: bool = False) -> str:
    """On track (≥ 10 days left), due soon (< 10), urgent (< 5), overdue (past the due date)."""
    if not is_open:
        return CLOSED
    if paused:
        return PAUSED
    if due_date is None:
        return ON_TRACK
    days_left = (due_date - today).days
    if days_left < 0:
        return OVERDUE
    if days_left < URGENT_DAYS:
        return URGENT
    if days_left < DUE_SOON_DAYS:
        return DUE_SOON
    return ON_TRACK


def sla_bounds(state: str, today: dt.date) -> tuple[dt.date | None, dt.date | None]:
    """The due-date range (inclusive, open-ended as None) that puts an open request in ``state``."""
    if state == OVERDUE:
        return None, today - dt.timedelta(days=1)
    if state == URGENT:
        return today, today + dt.timedelta(days=URGENT_DAYS - 1)
    if state == DUE_SOON:
        return today + dt.timedelta(days=URGENT_DAYS), today + dt.timedelta(days=DUE_SOON_DAYS - 1)
    if state == ON_TRACK:
        return today + dt.timedelta(days=DUE_SOON_DAYS), None
    raise ValueError(state)


def due_in_words(due_date: dt.date, today: dt.date) -> str:
    """What a due date means today, for people: "12 days left", "due today", "3 days overdue"."""
    days = (due_date - today).days
    if days == 0:
        return "due today"
    count = abs(days)
    unit = "day" if count == 1 else "days"
    return f"{count} {unit} left" if days > 0 else f"{count} {unit} overdue"
