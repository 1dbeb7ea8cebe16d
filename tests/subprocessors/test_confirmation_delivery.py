"""The subscription confirmation goes through the outbox: a broker or mail server that is down shows the
person the usual page (never a 500), and nothing records a confirmation as sent until it was."""

from datetime import timedelta

import pytest
from django.core import mail
from django.urls import reverse

from config.celery_app import app
from jobs.models import PendingJob
from jobs.services import pending_jobs_resend
from subprocessors.models import NoticeSubscriber
from tests.reliability.smtp import SmtpServer, smtp_server
from tests.support.processes import broker, free_port

pytestmark = pytest.mark.django_db
TASK = "subprocessors.tasks.subscriber_confirmation_send_task"


def _subscribe(client, capture):
    with capture(execute=True):
        return client.post(reverse("subprocessors:subscribe"), {"email": "dpo@customer.example"})


def test_with_the_broker_down_subscribing_answers_the_page_and_the_confirmation_follows_once(
    client, django_capture_on_commit_callbacks
):
    with broker(f"redis://127.0.0.1:{free_port()}/0"):
        response = _subscribe(client, django_capture_on_commit_callbacks)
        assert response.status_code == 200 and b"Check your inbox" in response.content
        assert _subscribe(client, django_capture_on_commit_callbacks).status_code == 200  # the person retries
    subscriber = NoticeSubscriber.objects.get()
    assert subscriber.confirmation_sent_at is None  # not sent, and not said to be
    assert PendingJob.objects.filter(task_name=TASK, sent_at__isnull=True).count() == 2
    assert mail.outbox == []
    app.conf.task_always_eager = True
    try:
        assert pending_jobs_resend(older_than=timedelta(0)) == 2
    finally:
        app.conf.task_always_eager = False
    assert len(mail.outbox) == 1  # the second job finds the confirmation sent
    assert mail.outbox[0].to == ["dpo@customer.example"]
    subscriber.refresh_from_db()
    assert subscriber.confirmation_sent_at is not None


def test_with_the_mail_server_refusing_subscribing_answers_the_page_and_a_retry_sends_the_confirmation(
    client, settings, django_capture_on_commit_callbacks
):
    app.conf.task_always_eager = True
    app.conf.task_eager_propagates = False
    try:
        with smtp_server(settings) as smtp:
            smtp.refuse()
            response = _subscribe(client, django_capture_on_commit_callbacks)
            assert response.status_code == 200 and b"Check your inbox" in response.content
            assert smtp.refused >= 1 and smtp.messages == []
            assert NoticeSubscriber.objects.get().confirmation_sent_at is None
            smtp.refuse(False)
            response = _subscribe(client, django_capture_on_commit_callbacks)
            assert response.status_code == 200
            assert len(smtp.messages) == 1
            assert "/subprocessors/confirm/" in SmtpServer.body(smtp.messages[0])
            assert NoticeSubscriber.objects.get().confirmation_sent_at is not None
    finally:
        app.conf.task_always_eager = False
