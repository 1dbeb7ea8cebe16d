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
- The receipt date is the earliest calendar date of the moment of receipt among
  the controller's zone and the requester's (no law says whose calendar counts:
  the safe side). A CCPA request received 31 Mar 2026 16:30 in California is
  received on 31 Mar, though it is 1 Apr in London.
- The clock starts on the day of receipt. Where the regime says so (UK GDPR from
  5 Feb 2026, Art. 12A) it starts at the "relevant time": the latest of receipt,
  identity information received and fee paid.
- Where the regime pauses (UK GDPR, for access lines only: Art. 12A), a
  clarification leaves out of the period the days from the day it is asked to
  the day the answer arrives; days before the clock starts never count (they are
  not in the period, so they cannot be paused). The paused days are added to the
  line's due date before rolling to a working day. While a clarification is
  outstanding the pause runs until ``today`` (the due date shown is the earliest
  it can be). Requests received before ``clock_rules_from`` keep the old rules.
- An extension counts only if notified on or before the line's due date at the
  time, and only once; it does not apply to a right with its own period (CCPA
  opt-out and limit: 15 business days, no extension). Where the regime lets the
  controller set the new date (Swiss FADP Art. 25(7), DPO Art. 18), the line is
  due on the date the notice gave.
- The request's due date is the earliest due date among the lines still open
  (all lines once none is open). The target date is ``internal_margin_days``
  working days before it.

A line reopened when an appeal reverses its refusal (a ``line_reopened`` entry naming
its right) starts a new clock on the day it is reopened: each granting regime gives
it its response period from that day, and it is due on the earliest of those dates.

Appeals (REGULATIONS §1b): ``compute_appeal_deadlines`` gives an appeal its own due
date from the appeal period of each regime whose appeal rule applies (calendar days
from the day the appeal is received, day 0), the earliest of them; an extension
notified on or before that date adds the regime's appeal extension, and moves the
date only as far as every such regime allows (Oregon: none).

Several regimes govern one request (REGULATIONS §1a). ``compute_request_deadlines``
computes each regime's dates with its own rules, then: a line is due on the
earliest date among the regimes that grant its right (so an extension moves a
line only as far as every granting regime allows, and a pause counts only in the
regimes that have one); the acknowledgement is due by the earliest date any
applicable regime sets.
"""

from __future__ import annotations

import calendar
import datetime as dt
import zoneinfo
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import TYPE_CHECKING, Any

import holidays

if TYPE_CHECKING:
    from compliance.models import Regime

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
    fee_starts_clock: bool = False
    clarification_pauses_clock: bool = False
    pause_rights: frozenset[str] = frozenset()
    clock_rules_from: dt.date | None = None
    extension_to_chosen_date: bool = False
    internal_margin_days: int = 0
    holiday_country: str = ""
    holiday_subdivision: str = ""
    right_overrides: dict[str, Period] = field(default_factory=dict)
    granted_rights: frozenset[str] = frozenset()

    @classmethod
    def from_regime(cls, regime: Regime, regime_rights: Iterable[Any] | None = None) -> RegimeRule:
        """Snapshot ``regime`` (a ``compliance.Regime``) and its ``RegimeRight`` overrides."""
        if regime_rights is None:
            regime_rights = regime.regime_rights.select_related("right")
        regime_rights = list(regime_rights)
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
            fee_starts_clock=regime.fee_starts_clock,
            clarification_pauses_clock=regime.clarification_pauses_clock,
            pause_rights=frozenset(rr.right.slug for rr in regime_rights if rr.clarification_pauses_clock),
            clock_rules_from=regime.clock_rules_from,
            extension_to_chosen_date=regime.extension_to_chosen_date,
            internal_margin_days=regime.internal_margin_days,
            holiday_country=regime.holiday_country,
            holiday_subdivision=regime.holiday_subdivision,
            right_overrides=overrides,
            granted_rights=frozenset(rr.right.slug for rr in regime_rights),
        )


@dataclass(frozen=True)
class LedgerEntry:
    """One event of the ledger as the engine sees it: its type, the day it happened and, for an
    extension to a date the controller sets, that date."""

    type: str
    on: dt.date
    until: dt.date | None = None
    right: str = ""  # the right of a reopened line


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
    line_paused: dict[str, bool] = field(default_factory=dict)
    # Filled by compute_request_deadlines: the regimes granting each right, each regime's own dates,
    # and the regime whose date the request is due on.
    line_regimes: dict[str, tuple[str, ...]] = field(default_factory=dict)
    by_regime: dict[str, Deadlines] = field(default_factory=dict)
    governing_regime: str = ""


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


def receipt_day(received_at: dt.datetime, zones: Iterable[str]) -> dt.date:
    """The earliest calendar date of the moment ``received_at`` among ``zones`` (IANA names)."""
    days = [received_at.astimezone(zoneinfo.ZoneInfo(zone)).date() for zone in zones if zone]
    if not days:
        raise ValueError("At least one time zone is needed.")
    return min(days)


def clock_rules_apply(rule: RegimeRule, received_on: dt.date) -> bool:
    """Whether the identity, fee and pause rules apply to a request received on ``received_on``."""
    return rule.clock_rules_from is None or received_on >= rule.clock_rules_from


def clock_start(rule: RegimeRule, received_on: dt.date, ledger: Sequence[LedgerEntry]) -> dt.date:
    """The relevant time: receipt, or the latest of receipt, identity received and fee paid."""
    start = received_on
    if not clock_rules_apply(rule, received_on):
        return start
    starters = set()
    if rule.identity_starts_clock:
        starters.add("identity_received")
    if rule.fee_starts_clock:
        starters.add("fee_paid")
    for entry in ledger:
        if entry.type in starters and entry.on > start:
            start = entry.on
    return start


def pauses(
    rule: RegimeRule,
    received_on: dt.date,
    ledger: Sequence[LedgerEntry],
    today: dt.date,
    start: dt.date | None = None,
) -> tuple[int, dt.date | None]:
    """Days the clock was paused for clarification, and the day an outstanding pause began.

    Only days from the clock start count: a clarification asked before the relevant time pauses
    nothing until then.
    """
    if not (rule.clarification_pauses_clock and clock_rules_apply(rule, received_on)):
        return 0, None
    start = start or received_on
    paused = 0
    since: dt.date | None = None
    for entry in sorted(ledger, key=lambda e: e.on):
        if entry.type == "clarification_requested" and since is None:
            since = entry.on
        elif entry.type == "clarification_received" and since is not None:
            paused += max((entry.on - max(since, start)).days, 0)
            since = None
    if since is not None:
        paused += max((today - max(since, start)).days, 0)
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
    """Every date of a request under one regime, from the regime's rule and the ledger.

    ``rights`` are the slugs of the request's lines; ``open_rights`` those still
    open (all of them when ``None``). ``today`` only matters while a clarification
    is outstanding. ``general_due`` is the date of a line with neither its own
    period nor a pause.
    """
    calendar_ = holiday_calendar(rule.holiday_country, rule.holiday_subdivision)
    start = clock_start(rule, received_on, ledger)
    regime_paused, paused_since = pauses(rule, received_on, ledger, today, start)
    roll = rule.roll_to_working_day
    extension = next((e for e in sorted(ledger, key=lambda e: e.on) if e.type == "extension_notified"), None)
    if not (rule.extension or rule.extension_to_chosen_date):
        extension = None

    def due(period: Period, paused: int, *, extendable: bool) -> tuple[dt.date, bool]:
        base = add_period(start, period, calendar_, extra_days=paused, roll_to_working_day=roll)
        if not extendable or extension is None or extension.on > base:
            return base, False
        if rule.extension_to_chosen_date:
            return (max(extension.until, base), True) if extension.until else (base, False)
        extended = Period(period.amount + rule.extension, period.unit)  # type: ignore[operator]
        return add_period(start, extended, calendar_, extra_days=paused, roll_to_working_day=roll), True

    general_due, general_extended = due(rule.response, 0, extendable=True)
    line_due: dict[str, dt.date] = {}
    line_paused: dict[str, bool] = {}
    any_extended = general_extended
    for right in rights:
        paused = regime_paused if right in rule.pause_rights else 0
        override = rule.right_overrides.get(right)
        line_due[right], extended = due(override or rule.response, paused, extendable=override is None)
        line_paused[right] = right in rule.pause_rights and rule.clarification_pauses_clock
        any_extended = any_extended or extended
    pausing = [r for r in rights if r in rule.pause_rights]

    still_open = list(rights if open_rights is None else open_rights)
    candidates = [line_due[r] for r in still_open if r in line_due] or list(line_due.values()) or [general_due]
    due_date = min(candidates)

    acknowledge_by = None
    if rule.acknowledge is not None:
        acknowledge_by = add_period(received_on, rule.acknowledge, calendar_, roll_to_working_day=roll)

    target_date = subtract_business_days(due_date, rule.internal_margin_days, calendar_)
    target_date = max(target_date, min(start, due_date))
    return Deadlines(
        clock_started_on=start,
        paused_days=regime_paused if pausing else 0,
        paused_since=paused_since if pausing else None,
        is_extended=any_extended,
        extension_notified_on=extension.on if any_extended and extension else None,
        general_due=general_due,
        line_due=line_due,
        due_date=due_date,
        acknowledge_by=acknowledge_by,
        target_date=target_date,
        line_paused=line_paused,
    )


def compute_request_deadlines(
    *,
    rules: Mapping[str, RegimeRule],
    received_on: dt.date,
    ledger: Sequence[LedgerEntry],
    rights: Sequence[str],
    open_rights: Sequence[str] | None = None,
    today: dt.date,
) -> Deadlines:
    """Every date of a request governed by several regimes (REGULATIONS §1a).

    ``rules`` maps each applicable regime's code to its rule, the primary regime
    first (it settles ties). Each regime computes the lines it grants with its own
    start, pause, holiday and extension rules; a line is due on the earliest of
    those dates; the acknowledgement on the earliest date any regime sets. A line
    no applicable regime grants (a regime row corrected after intake) takes the
    earliest date any regime gives a line without its own period.
    """
    if not rules:
        raise ValueError("At least one regime governs a request.")
    still_open = list(rights if open_rights is None else open_rights)
    by_regime: dict[str, Deadlines] = {}
    line_regimes: dict[str, tuple[str, ...]] = {}
    for right in rights:
        line_regimes[right] = tuple(code for code, rule in rules.items() if right in rule.granted_rights)
    for code, rule in rules.items():
        granted = [r for r in rights if code in line_regimes[r]]
        by_regime[code] = compute_deadlines(
            rule=rule,
            received_on=received_on,
            ledger=ledger,
            rights=granted,
            open_rights=[r for r in still_open if r in granted],
            today=today,
        )

    line_due: dict[str, dt.date] = {}
    line_governor: dict[str, str] = {}
    for right in rights:
        codes = line_regimes[right]
        if codes:
            line_governor[right] = min(codes, key=lambda c: by_regime[c].line_due[right])
            line_due[right] = by_regime[line_governor[right]].line_due[right]
        else:
            line_governor[right] = min(rules, key=lambda c: by_regime[c].general_due)
            line_due[right] = by_regime[line_governor[right]].general_due
    for right, reopened_on in reopened_lines(ledger).items():
        if right in line_due:
            codes = line_regimes[right] or tuple(rules)
            dates = {code: reopened_line_due(rules[code], right, reopened_on) for code in codes}
            line_governor[right] = min(codes, key=lambda c: dates[c])
            line_due[right] = dates[line_governor[right]]

    candidates = [r for r in still_open if r in line_due] or list(line_due)
    if candidates:
        leading = min(candidates, key=lambda r: line_due[r])
        governing = line_governor[leading]
        due_date = line_due[leading]
        paused = by_regime[governing].line_paused.get(leading, False)
    else:
        governing = min(rules, key=lambda c: by_regime[c].general_due)
        due_date = by_regime[governing].general_due
        paused = False
    lead = by_regime[governing]
    rule = rules[governing]
    acknowledgements = [d.acknowledge_by for d in by_regime.values() if d.acknowledge_by is not None]
    calendar_ = holiday_calendar(rule.holiday_country, rule.holiday_subdivision)
    target_date = subtract_business_days(due_date, rule.internal_margin_days, calendar_)
    target_date = max(target_date, min(lead.clock_started_on, due_date))
    extensions = [d.extension_notified_on for d in by_regime.values() if d.extension_notified_on]
    return Deadlines(
        clock_started_on=lead.clock_started_on,
        paused_days=lead.paused_days if paused else 0,
        paused_since=lead.paused_since if paused else None,
        is_extended=any(d.is_extended for d in by_regime.values()),
        extension_notified_on=min(extensions) if extensions else None,
        general_due=max(line_due.values()) if line_due else due_date,
        line_due=line_due,
        due_date=due_date,
        acknowledge_by=min(acknowledgements) if acknowledgements else None,
        target_date=target_date,
        line_paused={r: by_regime[line_governor[r]].line_paused.get(r, False) for r in rights},
        line_regimes=line_regimes,
        by_regime=by_regime,
        governing_regime=governing,
    )


def reopened_lines(ledger: Sequence[LedgerEntry]) -> dict[str, dt.date]:
    """The rights of lines reopened on appeal, each with the last day it was reopened."""
    reopened: dict[str, dt.date] = {}
    for entry in sorted(ledger, key=lambda e: e.on):
        if entry.type == "line_reopened" and entry.right:
            reopened[entry.right] = entry.on
    return reopened


def reopened_line_due(rule: RegimeRule, right: str, reopened_on: dt.date) -> dt.date:
    """A reopened line under one regime: its response period again, from the day it was reopened."""
    calendar_ = holiday_calendar(rule.holiday_country, rule.holiday_subdivision)
    period = rule.right_overrides.get(right) or rule.response
    return add_period(reopened_on, period, calendar_, roll_to_working_day=rule.roll_to_working_day)


# ------------------------------------------------------------------------------
# Appeals (REGULATIONS §1b)
# ------------------------------------------------------------------------------


@dataclass(frozen=True)
class AppealRule:
    """A regime's appeal rule: the days to answer, and the further days an extension with notice gives."""

    period: int
    extension: int | None = None
    roll_to_working_day: bool = False
    internal_margin_days: int = 0
    holiday_country: str = ""
    holiday_subdivision: str = ""

    @classmethod
    def from_regime(cls, regime: Regime) -> AppealRule | None:
        """The appeal rule of a ``compliance.Regime`` row; ``None`` where the law gives no appeal."""
        if not regime.appeal_period:
            return None
        return cls(
            period=regime.appeal_period,
            extension=regime.appeal_extension_period or None,
            roll_to_working_day=regime.roll_to_working_day,
            internal_margin_days=regime.internal_margin_days,
            holiday_country=regime.holiday_country,
            holiday_subdivision=regime.holiday_subdivision,
        )


@dataclass(frozen=True)
class AppealDeadlines:
    received_on: dt.date
    due_date: dt.date
    target_date: dt.date
    is_extended: bool
    extension_notified_on: dt.date | None
    governing_regime: str
    by_regime: dict[str, dt.date] = field(default_factory=dict)


def compute_appeal_deadlines(
    *, rules: Mapping[str, AppealRule], received_on: dt.date, ledger: Sequence[LedgerEntry]
) -> AppealDeadlines:
    """An appeal's dates from its regimes' appeal rules and the appeal's own events.

    ``rules`` maps each regime code whose appeal rule applies to it (the first settles
    ties); ``ledger`` holds the appeal's events (``appeal_extension_notified``). The
    appeal is due ``period`` calendar days after the day it was received (day 0), the
    earliest among the regimes; an extension notified on or before that date adds each
    regime's extension, and a regime without one keeps its date.
    """
    if not rules:
        raise ValueError("An appeal needs at least one regime with an appeal period.")
    base: dict[str, dt.date] = {}
    calendars = {}
    for code, rule in rules.items():
        calendars[code] = holiday_calendar(rule.holiday_country, rule.holiday_subdivision)
        base[code] = add_period(
            received_on,
            Period(rule.period, CALENDAR_DAYS),
            calendars[code],
            roll_to_working_day=rule.roll_to_working_day,
        )
    first_due = min(base.values())
    extension = next((e for e in sorted(ledger, key=lambda e: e.on) if e.type == "appeal_extension_notified"), None)
    in_time = extension is not None and extension.on <= first_due
    by_regime: dict[str, dt.date] = {}
    for code, rule in rules.items():
        if in_time and rule.extension:
            by_regime[code] = add_period(
                received_on,
                Period(rule.period + rule.extension, CALENDAR_DAYS),
                calendars[code],
                roll_to_working_day=rule.roll_to_working_day,
            )
        else:
            by_regime[code] = base[code]
    governing = min(rules, key=lambda c: by_regime[c])
    due_date = by_regime[governing]
    target_date = subtract_business_days(due_date, rules[governing].internal_margin_days, calendars[governing])
    return AppealDeadlines(
        received_on=received_on,
        due_date=due_date,
        target_date=max(target_date, received_on),
        is_extended=due_date > first_due,
        extension_notified_on=extension.on if in_time and extension else None,
        governing_regime=governing,
        by_regime=by_regime,
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
