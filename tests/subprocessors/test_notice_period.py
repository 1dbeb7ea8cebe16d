"""The effective date of a change is at least the notice period after its announcement (calendar days)."""

from datetime import date, timedelta

import pytest
import time_machine
from django.core.exceptions import ValidationError
from django.utils import timezone

from subprocessors.models import Subprocessor, SubprocessorChange
from subprocessors.services.changes import (
    earliest_effective_date,
    required_notice_days,
    subprocessor_change_activate,
    subprocessor_change_announce,
)
from tests.support.factories import CustomerFactory


def announce_addition(sub, officer, effective_on):
    return subprocessor_change_announce(
        subprocessor=sub,
        kind=SubprocessorChange.Kind.ADDITION,
        summary="Adding a vendor.",
        effective_on=effective_on,
        actor=officer,
    )


@time_machine.travel("2026-01-31 12:00 +00:00")
def test_an_effective_date_inside_the_notice_period_is_refused_and_nothing_is_saved(proposed, officer):
    with pytest.raises(ValidationError) as refused:
        announce_addition(proposed, officer, date(2026, 3, 1))
    assert refused.value.message_dict["effective_on"] == [
        "The effective date must give 30 days' notice: the earliest is 2 March 2026 (announced 31 January 2026)."
    ]
    assert not SubprocessorChange.objects.exists()
    proposed.refresh_from_db()
    assert proposed.status == Subprocessor.Status.PROPOSED


@time_machine.travel("2026-01-31 12:00 +00:00")
def test_thirty_calendar_days_are_counted_across_a_short_month(proposed, officer):
    # 31 January + 30 days is 2 March (February has 28 days in 2026), not "the same date next month".
    assert earliest_effective_date() == date(2026, 3, 2)
    change = announce_addition(proposed, officer, date(2026, 3, 2))
    assert change.effective_on == date(2026, 3, 2)


def test_the_change_takes_effect_on_the_effective_date_not_the_day_before(proposed, officer):
    with time_machine.travel("2026-05-10 09:00 +01:00"):
        change = announce_addition(proposed, officer, date(2026, 6, 9))
    with time_machine.travel("2026-06-08 23:59 +01:00"), pytest.raises(ValidationError):
        subprocessor_change_activate(change=change, actor=officer)
    with time_machine.travel("2026-06-09 00:01 +01:00"):
        subprocessor_change_activate(change=change, actor=officer)
    proposed.refresh_from_db()
    assert proposed.status == Subprocessor.Status.ACTIVE


def test_dates_are_days_in_the_controllers_time_zone(proposed, officer):
    # 23:30 UTC on 9 June is already 10 June in London (BST): the announcement is dated 10 June.
    with time_machine.travel("2026-06-09 23:30 +00:00"):
        assert timezone.localdate() == date(2026, 6, 10)
        with pytest.raises(ValidationError):
            announce_addition(proposed, officer, date(2026, 7, 9))
        change = announce_addition(proposed, officer, date(2026, 7, 10))
    assert change.announced_on == date(2026, 6, 10)


def test_the_notice_period_comes_from_the_setting(settings, proposed, officer):
    settings.SUBPROCESSOR_NOTICE_DAYS = 10
    with time_machine.travel("2026-06-01 12:00 +01:00"):
        assert required_notice_days() == 10
        change = announce_addition(proposed, officer, date(2026, 6, 11))
    assert change.notice_days == 10


def test_the_longest_active_customer_contract_sets_the_notice(proposed, officer):
    CustomerFactory(notice_days=45)
    CustomerFactory(notice_days=14)
    CustomerFactory(notice_days=90, is_active=False)
    assert required_notice_days() == 45
    with time_machine.travel("2026-06-01 12:00 +01:00"):
        with pytest.raises(ValidationError, match="45 days' notice: the earliest is 16 July 2026"):
            announce_addition(proposed, officer, date(2026, 7, 1))
        change = announce_addition(proposed, officer, date(2026, 7, 16))
    assert change.notice_days == 45


def test_a_longer_notice_later_does_not_reopen_a_change_already_announced(proposed, officer):
    with time_machine.travel("2026-06-01 12:00 +01:00"):
        change = announce_addition(proposed, officer, timezone.localdate() + timedelta(days=30))
    CustomerFactory(notice_days=60)
    with time_machine.travel("2026-07-01 12:00 +01:00"):
        subprocessor_change_activate(change=change, actor=officer)
    change.refresh_from_db()
    assert change.status == SubprocessorChange.Status.EFFECTIVE
    assert change.notice_days == 30


def test_the_database_refuses_an_effective_date_before_the_announcement(proposed):
    from django.db import IntegrityError, transaction

    with pytest.raises(IntegrityError), transaction.atomic():
        SubprocessorChange.objects.create(
            subprocessor=proposed,
            kind=SubprocessorChange.Kind.ADDITION,
            summary="x",
            announced_on=date(2026, 6, 1),
            notice_days=30,
            effective_on=date(2026, 5, 31),
        )
