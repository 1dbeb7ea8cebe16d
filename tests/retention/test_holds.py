"""Legal holds: a scope, a period that makes sense, and a release that is recorded."""

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from compliance.models import DataCategory
from retention.models import LegalHold
from retention.selectors import active_holds
from retention.services import legal_hold_place, legal_hold_release, legal_hold_save

LONDON = ZoneInfo("Europe/London")


@pytest.mark.django_db
def test_a_hold_whose_until_is_before_its_from_is_refused(officer):
    start = datetime(2026, 5, 1, tzinfo=LONDON)
    with pytest.raises(ValidationError) as excinfo:
        legal_hold_place(
            actor=officer,
            name="Backwards",
            reason="dispute",
            subject_email="a@example.com",
            starts_at=start,
            ends_at=start - timedelta(days=1),
        )
    assert "'Until' must be after 'from'" in " ".join(excinfo.value.messages)


@pytest.mark.django_db
def test_the_database_refuses_until_before_from_too(officer):
    hold = legal_hold_place(actor=officer, name="Ok", reason="dispute", subject_email="a@example.com")
    with pytest.raises(IntegrityError), transaction.atomic():
        LegalHold.objects.filter(pk=hold.pk).update(ends_at=hold.starts_at - timedelta(seconds=1))


@pytest.mark.django_db
def test_a_hold_without_any_scope_is_refused(officer):
    with pytest.raises(ValidationError) as excinfo:
        legal_hold_place(actor=officer, name="Everything", reason="litigation")
    assert "Give the hold a scope" in " ".join(excinfo.value.messages)


@pytest.mark.django_db
def test_a_table_outside_the_chosen_system_is_refused(officer, minimap):
    from compliance.models import SystemOfRecord

    other = SystemOfRecord.objects.create(name="CRM", slug="crm", owner="Sales", kind="manual")
    with pytest.raises(ValidationError) as excinfo:
        legal_hold_place(actor=officer, name="Mixed", reason="dispute", system=other, table=minimap.invoices)
    assert "is not a table of CRM" in " ".join(excinfo.value.messages)


@pytest.mark.django_db
def test_the_subject_email_is_stored_normalised(officer):
    hold = legal_hold_place(actor=officer, name="Case", reason="dispute", subject_email="  Ann@Example.COM ")
    assert hold.subject_email == "ann@example.com"


@pytest.mark.django_db
def test_holds_are_active_only_between_from_and_until(officer):
    start = datetime(2026, 5, 1, 9, tzinfo=LONDON)
    hold = legal_hold_place(
        actor=officer,
        name="Window",
        reason="regulator_inquiry",
        data_category=DataCategory.objects.get(slug="support"),
        starts_at=start,
        ends_at=start + timedelta(days=10),
    )
    for moment, expected in [
        (start - timedelta(seconds=1), False),
        (start, True),
        (start + timedelta(days=10) - timedelta(seconds=1), True),
        (start + timedelta(days=10), False),
    ]:
        with time_machine.travel(moment, tick=False):
            assert (hold in active_holds()) is expected
            assert hold.is_active() is expected


@pytest.mark.django_db
def test_releasing_a_hold_is_a_recorded_event(officer):
    hold = legal_hold_place(actor=officer, name="Litigation 2026-14", reason="litigation", subject_account_ref="42")
    released = legal_hold_release(hold_id=hold.pk, actor=officer, reason="Settled out of court")
    assert released.released_by == officer and released.released_at is not None
    assert released.release_reason == "Settled out of court"
    assert hold not in active_holds()
    last = released.history.order_by("-history_date").first()
    assert last.history_user == officer
    assert last.history_change_reason == "Released: Settled out of court"
    assert last.released_at is not None


@pytest.mark.django_db
def test_a_hold_is_released_once_and_needs_a_reason(officer):
    hold = legal_hold_place(actor=officer, name="Case", reason="dispute", subject_account_ref="7")
    with pytest.raises(ValidationError, match="Say why"):
        legal_hold_release(hold_id=hold.pk, actor=officer, reason="  ")
    legal_hold_release(hold_id=hold.pk, actor=officer, reason="Dispute resolved")
    with pytest.raises(ValidationError, match="already released"):
        legal_hold_release(hold_id=hold.pk, actor=officer, reason="Again")
    hold.refresh_from_db()
    hold.description = "edited after release"
    with pytest.raises(ValidationError, match="was released"):
        legal_hold_save(hold=hold, actor=officer)
