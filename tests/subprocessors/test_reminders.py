"""Owners are reminded 60 and 30 days before a DPA review or an attestation expiry; a weekly digest."""

from datetime import date, timedelta

import pytest
import time_machine
from django.core import mail
from django.utils import timezone

from subprocessors.models import ExpiryReminder, RegisterDigest
from subprocessors.services.reminders import applicable_threshold, expiry_reminders_send, register_digest_send
from tests.support.factories import AttestationFactory, DPAFactory, LocationFactory, SubprocessorFactory


def run_each_day(start: date, end: date) -> dict[date, list[str]]:
    """Run the daily job on every day from start to end; the subjects sent on each day."""
    sent = {}
    day = start
    while day <= end:
        before = len(mail.outbox)
        with time_machine.travel(f"{day.isoformat()} 07:00 +00:00"):
            expiry_reminders_send()
            expiry_reminders_send()  # beat may run it twice: nothing goes out twice
        if len(mail.outbox) > before:
            sent[day] = [m.subject for m in mail.outbox[before:]]
        day += timedelta(days=1)
    return sent


def test_dpa_review_reminders_fire_60_and_30_days_before_the_review(officer, baseline):
    sub = SubprocessorFactory(trading_name="Beacon", internal_owner=officer, status="active")
    DPAFactory(subprocessor=sub, version="2024-01", signed_on=date(2024, 1, 15), review_on=date(2026, 9, 30))
    sent = run_each_day(date(2026, 7, 20), date(2026, 10, 2))
    assert list(sent) == [date(2026, 8, 1), date(2026, 8, 31)]
    assert sent[date(2026, 8, 1)] == ["Reminder: Beacon DPA version 2024-01 review due 30 September 2026 (60 days)"]
    assert sent[date(2026, 8, 31)] == ["Reminder: Beacon DPA version 2024-01 review due 30 September 2026 (30 days)"]
    assert all(m.to == ["officer@staff.example"] for m in mail.outbox)
    assert ExpiryReminder.objects.filter(sent_at__isnull=False).count() == 2


def test_attestation_expiry_reminders_fire_on_the_right_days_for_the_current_attestation_only(officer, baseline):
    sub = SubprocessorFactory(trading_name="Keystone", internal_owner=officer, status="active")
    AttestationFactory(subprocessor=sub, kind="iso27001", issued_on=date(2025, 3, 1), expires_on=date(2026, 3, 1))
    # Superseded by the renewed SOC 2 below: the old one is never reminded about.
    AttestationFactory(subprocessor=sub, kind="soc2_type2", issued_on=date(2025, 1, 1), expires_on=date(2026, 2, 1))
    AttestationFactory(subprocessor=sub, kind="soc2_type2", issued_on=date(2026, 1, 10), expires_on=date(2027, 1, 10))
    sent = run_each_day(date(2025, 12, 1), date(2026, 3, 2))
    assert list(sent) == [date(2025, 12, 31), date(2026, 1, 30)]
    assert "ISO/IEC 27001 expiry due 1 March 2026 (60 days)" in sent[date(2025, 12, 31)][0]
    assert "(30 days)" in sent[date(2026, 1, 30)][0]


def test_a_missed_day_is_caught_up_and_an_item_found_late_gets_only_the_closer_reminder(officer, baseline):
    sub = SubprocessorFactory(internal_owner=officer, status="active")
    DPAFactory(subprocessor=sub, signed_on=date(2024, 1, 1), review_on=date(2026, 9, 30))
    with time_machine.travel("2026-08-05 07:00 +00:00"):  # beat was down on 1 August
        assert expiry_reminders_send()["sent"] == 1
    assert "(56 days)" in mail.outbox[-1].subject
    other = SubprocessorFactory(internal_owner=officer, status="active")
    DPAFactory(subprocessor=other, signed_on=date(2024, 1, 1), review_on=date(2026, 9, 20))
    with time_machine.travel("2026-09-01 07:00 +00:00"):
        assert expiry_reminders_send()["sent"] == 2  # the first DPA's 30-day one, and the late one's 30-day one
    assert ExpiryReminder.objects.filter(dpa__subprocessor=other).get().threshold_days == 30


def test_a_renewed_review_date_starts_fresh_reminders(officer, baseline):
    sub = SubprocessorFactory(internal_owner=officer, status="active")
    dpa = DPAFactory(subprocessor=sub, signed_on=date(2024, 1, 1), review_on=date(2026, 9, 30))
    with time_machine.travel("2026-08-01 07:00 +00:00"):
        expiry_reminders_send()
    dpa.review_on = date(2027, 9, 30)
    dpa.save()
    with time_machine.travel("2027-08-01 07:00 +00:00"):
        assert expiry_reminders_send()["sent"] == 1


def test_retired_vendors_get_no_reminders_and_ownerless_ones_go_to_the_compliance_team(officer, baseline):
    retired = SubprocessorFactory(status="retired", internal_owner=officer)
    DPAFactory(subprocessor=retired, signed_on=date(2024, 1, 1), review_on=date(2026, 9, 30))
    ownerless = SubprocessorFactory(status="active", internal_owner=None)
    DPAFactory(subprocessor=ownerless, signed_on=date(2024, 1, 1), review_on=date(2026, 9, 30))
    with time_machine.travel("2026-08-01 07:00 +00:00"):
        assert expiry_reminders_send()["sent"] == 1
    assert mail.outbox[0].to == ["officer@staff.example"]  # the officer is in the Compliance officer group
    assert str(ownerless) in mail.outbox[0].subject


@pytest.mark.parametrize(
    ("days_left", "expected"), [(61, None), (60, 60), (45, 60), (31, 60), (30, 30), (1, 30), (0, 30), (-1, None)]
)
def test_the_applicable_threshold(days_left, expected):
    assert applicable_threshold(days_left, [60, 30]) == expected


def test_the_weekly_digest_goes_once_a_week_and_lists_what_is_due(active, officer, categories):
    DPAFactory(
        subprocessor=active,
        version="2026-renewal",
        signed_on=date(2025, 6, 1),
        review_on=timezone.localdate() + timedelta(days=20),
    )
    gap = SubprocessorFactory(trading_name="Legacy", status="active", data_categories=[categories["support"]])
    LocationFactory.build(subprocessor=gap, country="CN", mechanism="none_required").save()  # imported gap
    first = register_digest_send()
    assert first is not None and first.item_count >= 3
    assert register_digest_send() is None
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == ["officer@staff.example"]
    assert "Nimbus DPA 2026-renewal: review" in message.body
    assert "Legacy, China: China is outside the UK and EEA" in message.body
    assert "Subprocessors customers see that have no signed DPA:\n  - Legacy" in message.body
    with time_machine.travel(timezone.now() + timedelta(days=7)):
        assert register_digest_send() is not None
    assert RegisterDigest.objects.count() == 2


def test_a_quiet_week_still_sends_a_digest_saying_so(officer, baseline):
    register_digest_send()
    assert "nothing due" in mail.outbox[0].subject
    assert "Nothing is due in the next 60 days" in mail.outbox[0].body
