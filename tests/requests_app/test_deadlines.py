"""The deadline engine against the regime rows of the policy baseline.

Every worked example of REGULATIONS.md §2 is here, plus each regime's rule of §1.
"""

import datetime as dt

import pytest

from compliance.models import Regime
from requests_app.deadlines import (
    DUE_SOON,
    ON_TRACK,
    OVERDUE,
    PAUSED,
    URGENT,
    LedgerEntry,
    RegimeRule,
    add_calendar_months,
    compute_deadlines,
    sla_state,
)

D = dt.date


def rule(code: str) -> RegimeRule:
    return RegimeRule.from_regime(Regime.objects.get(code=code))


def deadlines(code, received, events=(), rights=("access",), today=None, open_rights=None):
    return compute_deadlines(
        rule=rule(code),
        received_on=received,
        ledger=[LedgerEntry(type_, on) for type_, on in events],
        rights=list(rights),
        open_rights=open_rights,
        today=today or received,
    )


pytestmark = pytest.mark.usefixtures("baseline")


# --- REGULATIONS.md §2 worked examples ------------------------------------------------------------


@pytest.mark.parametrize("code", ["eu_gdpr", "uk_gdpr"])
def test_received_wed_3_sep_2025_is_due_fri_3_oct_and_extended_to_wed_3_dec(code):
    assert deadlines(code, D(2025, 9, 3)).due_date == D(2025, 10, 3)
    extended = deadlines(code, D(2025, 9, 3), [("extension_notified", D(2025, 9, 20))])
    assert extended.is_extended
    assert extended.due_date == D(2025, 12, 3)


@pytest.mark.parametrize("code", ["eu_gdpr", "uk_gdpr"])
def test_received_mon_25_nov_2024_is_due_fri_27_dec_after_the_christmas_bank_holidays(code):
    assert deadlines(code, D(2024, 11, 25)).due_date == D(2024, 12, 27)


def test_31_january_never_becomes_3_march():
    assert deadlines("eu_gdpr", D(2025, 1, 31)).due_date == D(2025, 2, 28)
    assert deadlines("eu_gdpr", D(2024, 1, 31)).due_date == D(2024, 2, 29)  # leap year, a Thursday


def test_the_clock_starts_on_the_day_of_receipt_even_a_sunday():
    # Sun 31 Aug 2025: no same date in September, so the last day (Tue 30 Sep).
    assert deadlines("eu_gdpr", D(2025, 8, 31)).due_date == D(2025, 9, 30)


def test_a_due_date_on_a_saturday_moves_to_monday():
    # 4 Oct 2025 is a Saturday.
    assert deadlines("eu_gdpr", D(2025, 9, 4)).due_date == D(2025, 10, 6)


def test_an_extension_runs_three_months_from_the_original_start_then_last_day_and_working_day():
    # Received Sat 30 Nov 2024: due Mon 30 Dec 2024; extended: 30 Feb does not exist → Fri 28 Feb 2025.
    base = deadlines("uk_gdpr", D(2024, 11, 30))
    assert base.due_date == D(2024, 12, 30)
    extended = deadlines("uk_gdpr", D(2024, 11, 30), [("extension_notified", D(2024, 12, 2))])
    assert extended.due_date == D(2025, 2, 28)


def test_month_arithmetic_clamps_to_the_end_of_the_month_across_years():
    assert add_calendar_months(D(2025, 11, 30), 3) == D(2026, 2, 28)
    assert add_calendar_months(D(2025, 12, 31), 1) == D(2026, 1, 31)
    assert add_calendar_months(D(2023, 3, 31), 11) == D(2024, 2, 29)


# --- Extensions ----------------------------------------------------------------------------------


def test_an_extension_notified_on_the_due_date_counts():
    assert deadlines("eu_gdpr", D(2025, 9, 3), [("extension_notified", D(2025, 10, 3))]).is_extended


def test_an_extension_notified_after_the_due_date_does_not_count():
    late = deadlines("eu_gdpr", D(2025, 9, 3), [("extension_notified", D(2025, 10, 4))])
    assert not late.is_extended
    assert late.due_date == D(2025, 10, 3)


def test_a_second_extension_adds_nothing():
    twice = deadlines(
        "eu_gdpr",
        D(2025, 9, 3),
        [("extension_notified", D(2025, 9, 10)), ("extension_notified", D(2025, 9, 20))],
    )
    assert twice.due_date == D(2025, 12, 3)


# --- UK GDPR from 5 Feb 2026 -------------------------------------------------------------------


def test_uk_gdpr_from_5_feb_2026_starts_the_clock_when_identity_information_arrives():
    result = deadlines(
        "uk_gdpr", D(2026, 2, 10), [("identity_requested", D(2026, 2, 11)), ("identity_received", D(2026, 2, 17))]
    )
    assert result.clock_started_on == D(2026, 2, 17)
    assert result.due_date == D(2026, 3, 17)


def test_uk_gdpr_before_5_feb_2026_keeps_the_old_rule_of_receipt():
    result = deadlines("uk_gdpr", D(2026, 2, 2), [("identity_received", D(2026, 2, 9))])
    assert result.clock_started_on == D(2026, 2, 2)
    assert result.due_date == D(2026, 3, 2)


def test_eu_gdpr_does_not_move_the_start_for_identity():
    result = deadlines("eu_gdpr", D(2026, 2, 10), [("identity_received", D(2026, 2, 17))])
    assert result.due_date == D(2026, 3, 10)


def test_uk_gdpr_clarification_pause_adds_its_days():
    result = deadlines(
        "uk_gdpr",
        D(2026, 2, 10),
        [("clarification_requested", D(2026, 2, 12)), ("clarification_received", D(2026, 2, 20))],
    )
    assert result.paused_days == 8
    assert result.paused_since is None
    assert result.due_date == D(2026, 3, 18)


def test_uk_gdpr_outstanding_clarification_keeps_the_clock_paused_until_today():
    result = deadlines("uk_gdpr", D(2026, 2, 10), [("clarification_requested", D(2026, 2, 12))], today=D(2026, 3, 1))
    assert result.paused_since == D(2026, 2, 12)
    assert result.paused_days == 17
    assert result.due_date == D(2026, 3, 27)


def test_uk_gdpr_pause_then_extension_adds_pause_to_the_extended_date():
    result = deadlines(
        "uk_gdpr",
        D(2026, 2, 10),
        [
            ("clarification_requested", D(2026, 2, 12)),
            ("clarification_received", D(2026, 2, 20)),
            ("extension_notified", D(2026, 3, 1)),
        ],
    )
    # 10 May 2026 is a Sunday; + 8 days = Mon 18 May 2026.
    assert result.due_date == D(2026, 5, 18)


def test_eu_gdpr_has_no_clarification_pause():
    result = deadlines(
        "eu_gdpr",
        D(2026, 2, 10),
        [("clarification_requested", D(2026, 2, 12)), ("clarification_received", D(2026, 2, 20))],
    )
    assert result.paused_days == 0
    assert result.due_date == D(2026, 3, 10)


def test_uk_gdpr_pause_before_5_feb_2026_does_not_count():
    result = deadlines(
        "uk_gdpr",
        D(2026, 1, 12),
        [("clarification_requested", D(2026, 1, 13)), ("clarification_received", D(2026, 1, 20))],
    )
    assert result.due_date == D(2026, 2, 12)


# --- CCPA and the US states ----------------------------------------------------------------------


def test_ccpa_is_45_calendar_days_whatever_time_verification_takes():
    result = deadlines("ccpa", D(2025, 11, 3), [("identity_received", D(2025, 11, 20))])
    assert result.due_date == D(2025, 12, 18)


def test_ccpa_extension_gives_90_days_in_total():
    result = deadlines("ccpa", D(2025, 11, 3), [("extension_notified", D(2025, 12, 1))])
    assert result.due_date == D(2026, 2, 1)


def test_ccpa_acknowledgement_is_due_in_10_business_days_skipping_veterans_day():
    assert deadlines("ccpa", D(2025, 11, 3)).acknowledge_by == D(2025, 11, 18)


def test_ccpa_opt_out_line_is_due_in_15_business_days_and_leads_the_request():
    result = deadlines("ccpa", D(2025, 11, 3), rights=["access", "opt_out"])
    assert result.line_due == {"access": D(2025, 12, 18), "opt_out": D(2025, 11, 25)}
    assert result.due_date == D(2025, 11, 25)


def test_ccpa_opt_out_line_does_not_take_the_extension():
    result = deadlines("ccpa", D(2025, 11, 3), [("extension_notified", D(2025, 11, 5))], rights=["opt_out", "access"])
    assert result.line_due["opt_out"] == D(2025, 11, 25)
    assert result.line_due["access"] == D(2026, 2, 1)


def test_once_the_opt_out_is_done_the_request_is_due_on_the_access_date():
    result = deadlines("ccpa", D(2025, 11, 3), rights=["access", "opt_out"], open_rights=["access"])
    assert result.due_date == D(2025, 12, 18)


@pytest.mark.parametrize("code", ["vcdpa", "cpa", "ctdpa", "tdpsa"])
def test_us_states_give_45_days_plus_45_on_notified_extension(code):
    assert deadlines(code, D(2025, 6, 2)).due_date == D(2025, 7, 17)
    assert deadlines(code, D(2025, 6, 2)).acknowledge_by is None
    assert deadlines(code, D(2025, 6, 2), [("extension_notified", D(2025, 7, 1))]).due_date == D(2025, 8, 31)


# --- Other regimes -------------------------------------------------------------------------------


def test_lgpd_is_15_days_without_extension():
    assert deadlines("lgpd", D(2025, 6, 2)).due_date == D(2025, 6, 17)
    assert deadlines("lgpd", D(2025, 6, 2)).acknowledge_by == D(2025, 6, 2)  # the simplified reply: immediately
    assert not deadlines("lgpd", D(2025, 6, 2), [("extension_notified", D(2025, 6, 3))]).is_extended


def test_pipeda_is_30_days_plus_30():
    assert deadlines("pipeda", D(2025, 6, 2)).due_date == D(2025, 7, 2)
    assert deadlines("pipeda", D(2025, 6, 2), [("extension_notified", D(2025, 6, 20))]).due_date == D(2025, 8, 1)


@pytest.mark.parametrize("code", ["quebec", "fadp"])
def test_quebec_and_fadp_are_30_days_without_extension(code):
    assert deadlines(code, D(2025, 6, 2)).due_date == D(2025, 7, 2)
    assert deadlines(code, D(2025, 6, 2), [("extension_notified", D(2025, 6, 3))]).due_date == D(2025, 7, 2)


# --- Target date and rules as data ---------------------------------------------------------------


def test_target_date_is_the_margin_in_working_days_before_the_due_date():
    # UK margin 3 working days: due Fri 3 Oct 2025 → Tue 30 Sep 2025.
    assert deadlines("uk_gdpr", D(2025, 9, 3)).target_date == D(2025, 9, 30)
    # CCPA margin 5 working days before Thu 18 Dec 2025 → Thu 11 Dec 2025.
    assert deadlines("ccpa", D(2025, 11, 3)).target_date == D(2025, 12, 11)


def test_a_regime_row_corrected_in_the_admin_changes_the_dates():
    regime = Regime.objects.get(code="fadp")
    regime.response_period = 20
    regime.save()
    assert deadlines("fadp", D(2025, 6, 2)).due_date == D(2025, 6, 22)


def test_holiday_calendar_is_configurable_per_regime():
    regime = Regime.objects.get(code="eu_gdpr")
    # 2 Jan 2026 is a Scottish bank holiday, not an English one: received Tue 2 Dec 2025.
    assert deadlines("eu_gdpr", D(2025, 12, 2)).due_date == D(2026, 1, 2)
    regime.holiday_subdivision = "SCT"
    regime.save()
    assert deadlines("eu_gdpr", D(2025, 12, 2)).due_date == D(2026, 1, 5)


# --- SLA states ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("days_left", "state"),
    [(30, ON_TRACK), (10, ON_TRACK), (9, DUE_SOON), (5, DUE_SOON), (4, URGENT), (0, URGENT), (-1, OVERDUE)],
)
def test_sla_state_thresholds(days_left, state):
    today = D(2026, 3, 10)
    assert sla_state(today + dt.timedelta(days=days_left), today) == state


def test_a_paused_request_is_shown_as_paused_not_overdue():
    assert sla_state(D(2026, 1, 1), D(2026, 3, 1), paused=True) == PAUSED
