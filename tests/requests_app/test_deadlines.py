"""The deadline engine against the regime rows of the policy baseline.

Every worked example of REGULATIONS.md §2 is here, plus each regime's rule of §1.
"""

import datetime as dt
from zoneinfo import ZoneInfo

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
    compute_request_deadlines,
    receipt_day,
    sla_state,
)

D = dt.date


def rule(code: str) -> RegimeRule:
    return RegimeRule.from_regime(Regime.objects.get(code=code))


def entry(type_, on, until=None):
    return LedgerEntry(type_, on, until)


def deadlines(code, received, events=(), rights=("access",), today=None, open_rights=None):
    return compute_deadlines(
        rule=rule(code),
        received_on=received,
        ledger=[entry(*event) for event in events],
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


# --- UK Art. 12A: the relevant time and the access-only pause (issue 13) ------------------------------


def test_uk_received_2_mar_identity_10_mar_clarification_5_to_12_mar_is_due_mon_13_apr_2026():
    # Days before the clock starts (10 Mar) are never paused: only 10-12 Mar count; 12 Apr is a Sunday.
    result = deadlines(
        "uk_gdpr",
        D(2026, 3, 2),
        [
            ("identity_requested", D(2026, 3, 3)),
            ("clarification_requested", D(2026, 3, 5)),
            ("identity_received", D(2026, 3, 10)),
            ("clarification_received", D(2026, 3, 12)),
        ],
    )
    assert result.clock_started_on == D(2026, 3, 10)
    assert result.paused_days == 2
    assert result.due_date == D(2026, 4, 13)


def test_uk_erasure_only_request_with_a_clarification_5_to_12_mar_stays_due_2_apr_2026():
    result = deadlines(
        "uk_gdpr",
        D(2026, 3, 2),
        [("clarification_requested", D(2026, 3, 5)), ("clarification_received", D(2026, 3, 12))],
        rights=["erasure"],
    )
    assert result.paused_days == 0
    assert result.due_date == D(2026, 4, 2)


def test_uk_access_and_erasure_the_pause_moves_the_access_line_only():
    result = deadlines(
        "uk_gdpr",
        D(2026, 3, 2),
        [("clarification_requested", D(2026, 3, 5)), ("clarification_received", D(2026, 3, 12))],
        rights=["access", "erasure"],
    )
    assert result.line_due == {"access": D(2026, 4, 9), "erasure": D(2026, 4, 2)}
    assert result.due_date == D(2026, 4, 2)


def test_uk_fee_paid_starts_the_clock_at_the_latest_of_receipt_identity_and_fee():
    result = deadlines(
        "uk_gdpr",
        D(2026, 3, 2),
        [("identity_received", D(2026, 3, 6)), ("fee_paid", D(2026, 3, 9))],
    )
    assert result.clock_started_on == D(2026, 3, 9)
    assert result.due_date == D(2026, 4, 9)
    identity_last = deadlines(
        "uk_gdpr", D(2026, 3, 2), [("fee_paid", D(2026, 3, 4)), ("identity_received", D(2026, 3, 11))]
    )
    assert identity_last.clock_started_on == D(2026, 3, 11)


def test_uk_request_received_before_5_feb_2026_neither_pauses_nor_restarts_for_a_fee():
    result = deadlines("uk_gdpr", D(2026, 2, 2), [("fee_paid", D(2026, 2, 9))])
    assert result.clock_started_on == D(2026, 2, 2)
    assert result.due_date == D(2026, 3, 2)


def test_eu_gdpr_has_no_fee_or_identity_start():
    assert deadlines("eu_gdpr", D(2026, 3, 2), [("fee_paid", D(2026, 3, 9))]).due_date == D(2026, 4, 2)


# --- Whose date is the receipt date; whose holidays ----------------------------------------------


def test_ccpa_received_31_mar_2026_1630_in_california_is_due_15_may_opt_out_21_apr_ack_14_apr():
    # 16:30 in Los Angeles is 00:30 on 1 Apr in London: the earliest calendar date is 31 Mar.
    moment = dt.datetime(2026, 3, 31, 16, 30, tzinfo=ZoneInfo("America/Los_Angeles"))
    received = receipt_day(moment, ["Europe/London", Regime.objects.get(code="ccpa").time_zone])
    assert received == D(2026, 3, 31)
    result = deadlines("ccpa", received, rights=["access", "opt_out"])
    assert result.line_due == {"access": D(2026, 5, 15), "opt_out": D(2026, 4, 21)}
    assert result.acknowledge_by == D(2026, 4, 14)


def test_a_requester_east_of_the_controller_takes_the_controllers_date():
    moment = dt.datetime(2026, 3, 31, 23, 30, tzinfo=ZoneInfo("Europe/London"))
    assert receipt_day(moment, ["Europe/London", "Europe/Zurich"]) == D(2026, 3, 31)


def test_eu_gdpr_received_fri_31_jul_2026_is_due_mon_31_aug_on_the_irish_calendar():
    # 31 Aug 2026 is England's summer bank holiday, not Ireland's (first Monday of August).
    assert Regime.objects.get(code="eu_gdpr").holiday_country == "IE"
    assert deadlines("eu_gdpr", D(2026, 7, 31)).due_date == D(2026, 8, 31)
    assert deadlines("uk_gdpr", D(2026, 7, 31)).due_date == D(2026, 9, 1)


def test_the_eu_holiday_calendar_is_a_setting_read_when_the_baseline_loads(settings):
    from compliance.services import policy_baseline_load

    # Received Sun 14 Jun 2026: due Tue 14 Jul, Bastille Day in France, not a holiday in Ireland.
    assert deadlines("eu_gdpr", D(2026, 6, 14)).due_date == D(2026, 7, 14)
    settings.EU_GDPR_HOLIDAY_COUNTRY = "FR"
    policy_baseline_load(update=True)
    assert deadlines("eu_gdpr", D(2026, 6, 14)).due_date == D(2026, 7, 15)


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


@pytest.mark.parametrize(
    "code",
    [
        "vcdpa", "cpa", "ctdpa", "ucpa", "tdpsa", "ocpa", "mcdpa", "dpdpa", "nhpa", "njdpa", "ndpa", "tipa",
        "mcdpa_mn", "modpa", "incdpa", "kcdpa", "ridtppa",
    ],
)  # fmt: skip
def test_us_states_give_45_days_plus_45_on_notified_extension(code):
    assert deadlines(code, D(2025, 6, 2)).due_date == D(2025, 7, 17)
    assert deadlines(code, D(2025, 6, 2)).acknowledge_by is None
    assert deadlines(code, D(2025, 6, 2), [("extension_notified", D(2025, 7, 1))]).due_date == D(2025, 8, 31)


def test_an_iowa_request_is_due_in_90_days_plus_45_on_notified_extension():
    assert deadlines("icdpa", D(2026, 3, 2)).due_date == D(2026, 5, 31)
    assert deadlines("icdpa", D(2026, 3, 2), [("extension_notified", D(2026, 4, 1))]).due_date == D(2026, 7, 15)
    assert "rectification" not in rule("icdpa").granted_rights


@pytest.mark.parametrize("code", ["ctdpa", "ocpa"])
def test_consent_withdrawal_in_connecticut_and_oregon_stops_processing_within_15_days(code):
    result = deadlines(code, D(2026, 3, 2), rights=["access", "withdraw_consent"])
    assert result.line_due == {"access": D(2026, 4, 16), "withdraw_consent": D(2026, 3, 17)}


def test_every_question_marked_figure_of_regulations_1b_is_noted_in_its_row():
    # Figures marked "?" in §1b: the team can see which rows to check against the statute.
    for code in ["cpa", "tdpsa", "mcdpa", "icdpa", "dpdpa", "nhpa", "njdpa", "tipa", "mcdpa_mn", "modpa", "incdpa"]:
        assert "Marked '?'" in Regime.objects.get(code=code).notes, code
    for code in ["vcdpa", "ctdpa", "ocpa", "ndpa", "kcdpa"]:
        assert "Marked '?'" not in Regime.objects.get(code=code).notes, code


# --- Other regimes -------------------------------------------------------------------------------


def test_lgpd_is_15_days_without_extension():
    assert deadlines("lgpd", D(2025, 6, 2)).due_date == D(2025, 6, 17)
    assert deadlines("lgpd", D(2025, 6, 2)).acknowledge_by == D(2025, 6, 2)  # the simplified reply: immediately
    assert not deadlines("lgpd", D(2025, 6, 2), [("extension_notified", D(2025, 6, 3))]).is_extended


def test_pipeda_is_30_days_plus_30():
    assert deadlines("pipeda", D(2025, 6, 2)).due_date == D(2025, 7, 2)
    assert deadlines("pipeda", D(2025, 6, 2), [("extension_notified", D(2025, 6, 20))]).due_date == D(2025, 8, 1)


def test_quebec_is_30_days_without_extension():
    assert deadlines("quebec", D(2025, 6, 2)).due_date == D(2025, 7, 2)
    assert deadlines("quebec", D(2025, 6, 2), [("extension_notified", D(2025, 6, 3))]).due_date == D(2025, 7, 2)


def test_a_quebec_erasure_s28_is_granted_and_due_in_30_days_as_is_de_indexing_s28_1():
    quebec = rule("quebec")
    assert {"erasure", "objection"} <= quebec.granted_rights  # s.28 deletion; s.28.1 de-indexing (objection line)
    result = deadlines("quebec", D(2026, 3, 2), rights=["erasure", "objection"])
    assert result.line_due == {"erasure": D(2026, 4, 1), "objection": D(2026, 4, 1)}


def test_fadp_is_30_days_and_extends_to_the_date_the_officer_chose_and_told_the_requester():
    assert deadlines("fadp", D(2026, 3, 2)).due_date == D(2026, 4, 1)
    extended = deadlines("fadp", D(2026, 3, 2), [("extension_notified", D(2026, 3, 20), D(2026, 5, 15))])
    assert extended.is_extended
    assert extended.due_date == D(2026, 5, 15)
    # Told after the 30 days: no extension.
    late = deadlines("fadp", D(2026, 3, 2), [("extension_notified", D(2026, 4, 2), D(2026, 5, 15))])
    assert not late.is_extended
    assert late.due_date == D(2026, 4, 1)


# --- Several regimes on one request (REGULATIONS §1a) ---------------------------------------------


def governed(codes, received, events=(), rights=("access",), today=None, open_rights=None):
    return compute_request_deadlines(
        rules={code: rule(code) for code in codes},
        received_on=received,
        ledger=[entry(*event) for event in events],
        rights=list(rights),
        open_rights=open_rights,
        today=today or received,
    )


def test_a_californian_under_the_uk_controller_restriction_is_due_on_the_uk_date_and_ccpa_ack_still_due():
    moment = dt.datetime(2026, 3, 31, 16, 30, tzinfo=ZoneInfo("America/Los_Angeles"))
    received = receipt_day(moment, ["Europe/London", "America/Los_Angeles"])
    result = governed(["ccpa", "uk_gdpr"], received, rights=["restriction", "opt_out"])
    assert result.line_regimes == {"restriction": ("uk_gdpr",), "opt_out": ("ccpa",)}
    assert result.line_due == {"restriction": D(2026, 4, 30), "opt_out": D(2026, 4, 21)}
    assert result.acknowledge_by == D(2026, 4, 14)  # CCPA's, though no line is CCPA's alone
    only_restriction = governed(["ccpa", "uk_gdpr"], received, rights=["restriction"])
    assert only_restriction.due_date == D(2026, 4, 30)
    assert only_restriction.acknowledge_by == D(2026, 4, 14)


def test_a_right_both_grant_is_due_on_the_earlier_date_each_with_its_own_rules():
    # UK: identity received 10 Mar restarts the clock (due 10 Apr); CCPA counts 45 days from 2 Mar (16 Apr).
    result = governed(["ccpa", "uk_gdpr"], D(2026, 3, 2), [("identity_received", D(2026, 3, 10))])
    assert result.by_regime["uk_gdpr"].line_due["access"] == D(2026, 4, 10)
    assert result.by_regime["ccpa"].line_due["access"] == D(2026, 4, 16)
    assert result.line_due["access"] == D(2026, 4, 10)
    assert result.governing_regime == "uk_gdpr"


def test_an_extension_moves_a_line_only_as_far_as_every_granting_regime_allows():
    # A Quebec requester: UK GDPR may extend by 2 months, Quebec not at all: the access line keeps Quebec's date.
    result = governed(["quebec", "uk_gdpr"], D(2026, 3, 2), [("extension_notified", D(2026, 3, 20))])
    assert result.line_due["access"] == D(2026, 4, 1)
    # A Virginian: both extend (UK to Tue 2 Jun, Virginia 90 days to 31 May): the earlier, 31 May.
    both = governed(["vcdpa", "uk_gdpr"], D(2026, 3, 2), [("extension_notified", D(2026, 3, 20))])
    assert both.by_regime["uk_gdpr"].line_due["access"] == D(2026, 6, 2)
    assert both.line_due["access"] == D(2026, 5, 31)


def test_a_pause_counts_only_in_the_regimes_that_have_one():
    events = [("clarification_requested", D(2026, 3, 5)), ("clarification_received", D(2026, 3, 25))]
    result = governed(["fadp", "uk_gdpr"], D(2026, 3, 2), events)
    assert result.by_regime["uk_gdpr"].line_due["access"] == D(2026, 4, 22)
    assert result.line_due["access"] == D(2026, 4, 1)  # the Swiss 30 days do not pause


def test_a_swiss_requester_extended_to_an_officer_chosen_date_under_the_uk_controller():
    events = [("extension_notified", D(2026, 3, 20), D(2026, 5, 15))]
    result = governed(["fadp", "uk_gdpr"], D(2026, 3, 2), events, rights=["access"])
    # FADP moves to the chosen 15 May; UK GDPR to 2 Jun: the line is due 15 May.
    assert result.line_due["access"] == D(2026, 5, 15)
    assert result.is_extended


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
    regime = Regime.objects.get(code="uk_gdpr")
    # 2 Jan 2026 is a Scottish bank holiday, not an English one: received Tue 2 Dec 2025.
    assert deadlines("uk_gdpr", D(2025, 12, 2)).due_date == D(2026, 1, 2)
    regime.holiday_subdivision = "SCT"
    regime.save()
    assert deadlines("uk_gdpr", D(2025, 12, 2)).due_date == D(2026, 1, 5)


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


# --- US appeals (REGULATIONS §1b) ------------------------------------------------------------------


def appeal_dates(codes, received, events=()):
    from requests_app.deadlines import AppealRule, compute_appeal_deadlines

    rules = {code: AppealRule.from_regime(Regime.objects.get(code=code)) for code in codes}
    return compute_appeal_deadlines(rules=rules, received_on=received, ledger=[entry(*event) for event in events])


def test_an_oregon_appeal_is_answered_within_45_days_and_cannot_be_extended():
    # Received Wed 1 Apr 2026 (day 0): due Sat 16 May 2026; an extension notice changes nothing.
    assert appeal_dates(["ocpa"], D(2026, 4, 1)).due_date == D(2026, 5, 16)
    extended = appeal_dates(["ocpa"], D(2026, 4, 1), [("appeal_extension_notified", D(2026, 4, 10))])
    assert extended.due_date == D(2026, 5, 16)
    assert not extended.is_extended


def test_a_colorado_appeal_is_answered_within_45_days_plus_60_with_notice_given_in_time():
    assert appeal_dates(["cpa"], D(2026, 4, 1)).due_date == D(2026, 5, 16)
    extended = appeal_dates(["cpa"], D(2026, 4, 1), [("appeal_extension_notified", D(2026, 5, 16))])
    assert extended.due_date == D(2026, 7, 15)  # 105 days after receipt
    assert extended.is_extended
    late = appeal_dates(["cpa"], D(2026, 4, 1), [("appeal_extension_notified", D(2026, 5, 17))])
    assert late.due_date == D(2026, 5, 16)
    assert not late.is_extended


def test_an_appeal_under_two_laws_is_due_on_the_earlier_date_and_extends_only_as_far_as_both_allow():
    both = appeal_dates(["vcdpa", "ocpa"], D(2026, 4, 1))
    assert both.by_regime == {"vcdpa": D(2026, 5, 31), "ocpa": D(2026, 5, 16)}
    assert both.due_date == D(2026, 5, 16)
    assert both.governing_regime == "ocpa"


def test_a_regime_without_an_appeal_period_gives_no_appeal_rule():
    from requests_app.deadlines import AppealRule

    assert AppealRule.from_regime(Regime.objects.get(code="ccpa")) is None
    assert AppealRule.from_regime(Regime.objects.get(code="uk_gdpr")) is None
    assert AppealRule.from_regime(Regime.objects.get(code="vcdpa")).period == 60


def test_a_line_reopened_on_appeal_is_due_its_regimes_period_again_from_the_day_it_was_reopened():
    ledger = [LedgerEntry("line_reopened", D(2026, 6, 1), None, "erasure")]
    result = compute_request_deadlines(
        rules={code: rule(code) for code in ["vcdpa", "uk_gdpr"]},
        received_on=D(2026, 3, 2),
        ledger=ledger,
        rights=["erasure", "access"],
        open_rights=["erasure"],
        today=D(2026, 6, 1),
    )
    # UK GDPR: one month from Mon 1 Jun is Wed 1 Jul; Virginia: 45 days is Thu 16 Jul. The earlier.
    assert result.line_due["erasure"] == D(2026, 7, 1)
    assert result.line_due["access"] == D(2026, 4, 2)  # untouched
    assert result.due_date == D(2026, 7, 1)


def test_a_virginia_refusal_appealed_and_answered_on_day_60(officer, agent):
    import time_machine
    from django.utils import timezone

    from requests_app.models import Communication, LetterTemplate
    from requests_app.services import (
        appeal_decide,
        appeal_open,
        communication_send,
        request_line_complete,
        rights_request_open,
    )

    def at(day):
        return timezone.make_aware(dt.datetime.combine(day, dt.time(11, 0)))

    with time_machine.travel(at(D(2026, 3, 2)), tick=False):
        request = rights_request_open(
            requester_name="Vera Hill",
            requester_email="vera.hill@example.com",
            requester_country="US",
            requester_region="VA",
            rights=["erasure"],
            actor=agent,
        )
    assert request.regime.code == "vcdpa"
    with time_machine.travel(at(D(2026, 3, 20)), tick=False):
        line = request.lines.get()
        request_line_complete(
            line=line,
            outcome="refused",
            reason="The account is the subject of an open fraud investigation; its records are kept until it ends.",
            actor=officer,
        )
        refusal = communication_send(request=request, template=LetterTemplate.PARTIAL_OR_REFUSAL, actor=officer)
    # The refusal says how to appeal, by when, and how long Virginia gives us to answer.
    assert "you can appeal it" in refusal.body
    assert "by 19 May 2026" in refusal.body  # 60 days after the letter (APPEAL_INVITED_WITHIN_DAYS)
    assert "under Virginia VCDPA, within 60 days of receiving your appeal" in refusal.body

    with time_machine.travel(at(D(2026, 4, 1)), tick=False):  # day 0
        appeal = appeal_open(request=request, statement="I closed my account; delete it.", actor=agent)
    assert [regime.code for regime in appeal.regimes.all()] == ["vcdpa"]  # UK GDPR gives no appeal
    assert appeal.due_date == D(2026, 5, 31)  # day 60
    received = Communication.objects.get(appeal=appeal, template=LetterTemplate.APPEAL_RECEIVED)
    assert "by Sunday 31 May 2026" in received.body

    with time_machine.travel(at(D(2026, 5, 31)), tick=False):  # day 60: answered in time
        appeal_decide(
            appeal=appeal,
            outcome="upheld",
            reason="The investigation is still open; the law lets us keep these records until it ends.",
            actor=officer,
        )
    appeal.refresh_from_db()
    assert appeal.status == "decided"
    assert appeal.decided_on_time is True
    decision = Communication.objects.get(appeal=appeal, template=LetterTemplate.APPEAL_DECISION)
    assert "we are keeping our decision" in decision.body
    assert "to the Virginia Attorney General, online at https://www.oag.state.va.us/consumer-protection/" in (
        decision.body
    )


def test_a_virginia_appeal_answered_on_day_61_is_late(officer, agent, refused_request):
    import time_machine
    from django.utils import timezone

    from requests_app.services import appeal_decide, appeal_open

    def at(day):
        return timezone.make_aware(dt.datetime.combine(day, dt.time(11, 0)))

    with time_machine.travel(at(D(2026, 3, 2)), tick=False):
        request = refused_request(region="VA")
    with time_machine.travel(at(D(2026, 4, 1)), tick=False):
        appeal = appeal_open(request=request, actor=agent)
    with time_machine.travel(at(D(2026, 6, 1)), tick=False):
        appeal_decide(appeal=appeal, outcome="upheld", reason="Still kept for the investigation.", actor=officer)
    appeal.refresh_from_db()
    assert appeal.due_date == D(2026, 5, 31)
    assert appeal.decided_on_time is False
