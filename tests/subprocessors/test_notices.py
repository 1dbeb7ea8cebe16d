"""Announced changes reach each confirmed subscriber once, from a template, with the delivery recorded."""

from datetime import timedelta

import pytest
from django.core import mail
from django.utils import timezone

from subprocessors.models import ChangeNoticeDelivery, SubprocessorChange
from subprocessors.services.changes import subprocessor_change_announce
from subprocessors.services.notices import MAX_ATTEMPTS, change_notices_send, change_notices_send_pending
from subprocessors.services.subscribers import confirmation_token, notice_subscriber_confirm
from tests.support.factories import SubscriberFactory


def announce(sub, officer, **kwargs):
    return subprocessor_change_announce(
        subprocessor=sub,
        kind=SubprocessorChange.Kind.ADDITION,
        summary="We are adding Nimbus to host backups in Ireland.",
        effective_on=timezone.localdate() + timedelta(days=30),
        actor=officer,
        **kwargs,
    )


class FailingBackend:
    """An email backend whose server is down."""

    def __init__(self, *args, **kwargs):
        pass

    def send_messages(self, messages):
        raise ConnectionRefusedError("smtp down")


@pytest.fixture
def subscribers(db):
    return [
        SubscriberFactory(email="dpo@acme.example"),
        SubscriberFactory(email="privacy@globex.example"),
        SubscriberFactory(email="pending@initech.example", confirmed_at=None),
        SubscriberFactory(email="gone@hooli.example", unsubscribed_at=timezone.now()),
    ]


@pytest.mark.usefixtures("eager_tasks")
def test_announcing_emails_each_confirmed_subscriber_once_even_when_the_job_runs_twice(
    proposed, officer, subscribers, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        change = announce(proposed, officer)
    assert sorted(m.to[0] for m in mail.outbox) == ["dpo@acme.example", "privacy@globex.example"]
    change_notices_send(change_id=change.pk)
    change_notices_send_pending()
    assert len(mail.outbox) == 2
    deliveries = ChangeNoticeDelivery.objects.filter(change=change)
    assert deliveries.count() == 2
    assert all(d.sent_at and d.attempts == 1 for d in deliveries)


def test_the_notice_comes_from_the_template_with_the_dates_the_summary_and_a_one_click_unsubscribe(
    proposed, officer, subscribers
):
    change = announce(proposed, officer)
    change_notices_send(change_id=change.pk)
    message = next(m for m in mail.outbox if m.to == ["dpo@acme.example"])
    effective = f"{change.effective_on:%-d %B %Y}"
    assert message.subject == f"Studio subprocessor change: New subprocessor – Nimbus, effective {effective}"
    assert "We are adding Nimbus to host backups in Ireland." in message.body
    assert f"Takes effect: {effective}" in message.body
    assert "studio@pahlavan.co.uk" in message.body
    assert message.extra_headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    unsubscribe = message.extra_headers["List-Unsubscribe"].strip("<>")
    assert unsubscribe in message.body
    assert "acme" not in unsubscribe


def test_a_subscriber_who_confirms_later_receives_the_changes_still_running(
    proposed, officer, db, django_capture_on_commit_callbacks, eager_tasks
):
    change = announce(proposed, officer)
    change_notices_send(change_id=change.pk)
    assert mail.outbox == []
    late = SubscriberFactory(email="late@acme.example", confirmed_at=None)
    with django_capture_on_commit_callbacks(execute=True):
        notice_subscriber_confirm(token=confirmation_token(late))
    assert [m.to for m in mail.outbox] == [["late@acme.example"]]
    assert ChangeNoticeDelivery.objects.get(subscriber=late).change == change


def test_withdrawn_or_effective_changes_are_not_emailed(active, officer, subscribers):
    effective = active.changes.get()
    change_notices_send(change_id=effective.pk)
    change_notices_send_pending()
    assert mail.outbox == []


def test_a_failed_send_is_recorded_and_retried_by_the_next_run(proposed, officer, subscribers, settings):
    change = announce(proposed, officer)
    settings.EMAIL_BACKEND = f"{__name__}.FailingBackend"
    assert change_notices_send(change_id=change.pk) == {"sent": 0, "failed": 2}
    delivery = ChangeNoticeDelivery.objects.filter(change=change).first()
    assert delivery.sent_at is None
    assert delivery.attempts == 1
    assert delivery.last_error == "ConnectionRefusedError"
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    assert change_notices_send_pending() == {"sent": 2, "failed": 0}
    assert len(mail.outbox) == 2
    assert change_notices_send_pending() == {"sent": 0, "failed": 0}


def test_a_delivery_that_keeps_failing_stops_after_the_maximum_attempts(proposed, officer, subscribers, settings):
    change = announce(proposed, officer)
    settings.EMAIL_BACKEND = f"{__name__}.FailingBackend"
    for _ in range(MAX_ATTEMPTS + 2):
        change_notices_send(change_id=change.pk)
    assert {d.attempts for d in ChangeNoticeDelivery.objects.filter(change=change)} == {MAX_ATTEMPTS}


def test_the_database_allows_one_delivery_per_change_and_subscriber(proposed, officer, subscribers):
    from django.db import IntegrityError, transaction

    change = announce(proposed, officer)
    ChangeNoticeDelivery.objects.create(change=change, subscriber=subscribers[0])
    with pytest.raises(IntegrityError), transaction.atomic():
        ChangeNoticeDelivery.objects.create(change=change, subscriber=subscribers[0])
