"""Issue 12 item 6: a letter is never recorded as sent when it cannot go out.

The letter form refuses a subject with a line break; a delivery that fails for good
(a real SMTP server on loopback refusing the recipient, or a header Django refuses)
marks the letter failed on the request and alerts its handler; and what the letter
stands for counts for the deadlines only once it is delivered.
"""

import asyncio
import datetime as dt
import socket

import pytest
import time_machine
from aiosmtpd.controller import Controller
from django.core import mail
from django.urls import reverse

from config.celery_app import app as celery_app
from requests_app.models import Communication, EventType, LetterTemplate, NotificationSent
from requests_app.services import (
    communication_deliver,
    communication_send,
    escalations_send,
    rights_request_assign,
)
from tests.requests_app.conftest import aware

REQUESTER = "ana.silva@example.com"


def letter_url(request):
    return reverse("admin:requests_app_rightsrequest_letter", args=[request.pk])


def change_url(request):
    return reverse("admin:requests_app_rightsrequest_change", args=[request.pk])


@pytest.fixture
def eager_tasks():
    celery_app.conf.task_always_eager = True
    yield
    celery_app.conf.task_always_eager = False


class RefusingHandler:
    """An SMTP server that refuses some recipients for good (550) and keeps what it accepts."""

    def __init__(self, refused: set[str]) -> None:
        self.refused = refused
        self.accepted: list[tuple[list[str], bytes]] = []

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address.lower() in self.refused:
            return "550 5.1.1 Mailbox unavailable"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        self.accepted.append((list(envelope.rcpt_tos), envelope.content))
        return "250 Message accepted"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def smtp_refusing_requester(settings):
    """A real SMTP server on loopback that refuses the requester's address and accepts staff mail."""
    handler = RefusingHandler({REQUESTER})
    controller = Controller(handler, hostname="127.0.0.1", port=_free_port(), loop=asyncio.new_event_loop())
    controller.start()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = "127.0.0.1"
    settings.EMAIL_PORT = controller.port
    settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
    settings.EMAIL_HOST_USER = settings.EMAIL_HOST_PASSWORD = ""
    yield handler
    controller.stop()


def test_the_letter_form_refuses_a_subject_with_a_line_break_and_keeps_the_text(client, agent, open_request):
    request = open_request(received_at=aware(2025, 9, 3))
    client.force_login(agent)
    injected = "Got it\r\nBcc: everyone@evil.example"
    response = client.post(
        letter_url(request),
        {"template": "acknowledgement", "subject": injected, "body": "Dear Ana, edited text.", "_send": "1"},
    )
    assert response.status_code == 200
    page = response.content.decode()
    assert "The subject must be a single line" in page
    assert "Bcc: everyone@evil.example" in page and "Dear Ana, edited text." in page  # what was typed is kept
    assert 'name="_send"' in page  # and it can be sent once corrected
    assert request.communications.count() == 0
    assert not request.events.filter(type=EventType.ACKNOWLEDGED).exists()

    response = client.post(
        letter_url(request),
        {"template": "acknowledgement", "subject": "Got it", "body": "Dear Ana, edited text.", "_send": "1"},
    )
    assert response.status_code == 302
    assert request.communications.get().subject == "Got it"


def test_a_letter_the_mail_server_refuses_is_marked_failed_and_the_assignee_is_alerted(
    client, agent, officer, open_request, smtp_refusing_requester, eager_tasks, django_capture_on_commit_callbacks
):
    request = open_request(received_at=aware(2025, 9, 3))
    rights_request_assign(request=request, assignee=agent, actor=officer)
    client.force_login(agent)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            letter_url(request),
            {"template": "acknowledgement", "subject": "We have your request", "body": "Dear Ana.", "_send": "1"},
        )
    assert response.status_code == 302

    letter = request.communications.get()
    assert letter.delivered_at is None and letter.failed_at is not None
    assert "code 550" in letter.failure_reason and REQUESTER not in letter.failure_reason
    request.refresh_from_db()
    assert request.acknowledged_at is None  # the acknowledgement did not happen

    # The assignee's alert went through the same real server, which accepted staff mail.
    alerts = [(to, content) for to, content in smtp_refusing_requester.accepted if to == [agent.email]]
    assert len(alerts) == 1
    assert request.reference.encode() in alerts[0][1] and b"could not be delivered" in alerts[0][1]
    assert REQUESTER.encode() not in alerts[0][1]
    assert NotificationSent.objects.filter(kind="letter_failed", recipient=agent, request=request).count() == 1

    page = client.get(change_url(request)).content.decode()
    assert "Letter not delivered: Acknowledgement" in page
    assert "delivery failed" in page

    # A redelivered task sends nothing and alerts nobody again.
    assert communication_deliver(communication_id=letter.pk) is False
    assert len(smtp_refusing_requester.accepted) == 1


def test_a_delivered_letter_shows_no_failure(
    client, agent, open_request, eager_tasks, django_capture_on_commit_callbacks
):
    request = open_request(received_at=aware(2025, 9, 3))
    client.force_login(agent)
    with django_capture_on_commit_callbacks(execute=True):
        client.post(
            letter_url(request),
            {"template": "acknowledgement", "subject": "We have your request", "body": "Dear Ana.", "_send": "1"},
        )
    letter = request.communications.get()
    assert letter.delivered_at is not None and letter.failed_at is None
    assert [m.to for m in mail.outbox] == [[REQUESTER]]
    page = client.get(change_url(request)).content.decode()
    assert "Letter not delivered" not in page and "(delivered " in page


def test_a_subject_that_slipped_in_at_the_model_level_fails_the_letter_instead_of_retrying(
    open_request, agent, officer
):
    request = open_request(received_at=aware(2025, 9, 3))
    rights_request_assign(request=request, assignee=agent, actor=officer)
    letter = communication_send(request=request, template=LetterTemplate.ACKNOWLEDGEMENT, actor=agent)
    Communication.objects.filter(pk=letter.pk).update(subject="Hello\r\nBcc: everyone@evil.example")

    assert communication_deliver(communication_id=letter.pk) is False  # no exception: nothing to retry
    letter.refresh_from_db()
    assert letter.failed_at is not None and "line break" in letter.failure_reason
    assert mail.outbox == []


def test_the_acknowledgement_counts_only_once_its_letter_is_delivered(open_request, agent, officer):
    """CCPA: acknowledge within 10 business days (received Mon 3 Nov 2025: by 18 Nov)."""
    failed = open_request(regime="ccpa", received_at=aware(2025, 11, 3), email="failed@example.com")
    delivered = open_request(regime="ccpa", received_at=aware(2025, 11, 3), email="delivered@example.com")
    with time_machine.travel(aware(2025, 11, 4), tick=False):
        lost = communication_send(request=failed, template=LetterTemplate.ACKNOWLEDGEMENT, actor=agent)
        Communication.objects.filter(pk=lost.pk).update(subject="Hello\r\nBcc: x@evil.example")
        communication_deliver(communication_id=lost.pk)
        sent = communication_send(request=delivered, template=LetterTemplate.ACKNOWLEDGEMENT, actor=agent)
        communication_deliver(communication_id=sent.pk)
    failed.refresh_from_db()
    delivered.refresh_from_db()
    assert failed.acknowledged_at is None
    assert delivered.acknowledged_at == aware(2025, 11, 4)
    mail.outbox.clear()

    escalations_send(today=dt.date(2025, 11, 19))
    escalated = NotificationSent.objects.filter(kind="ack_missed").values_list("request_id", flat=True)
    assert list(escalated) == [failed.pk]


def test_an_extension_counts_only_from_the_delivery_of_its_notice(open_request, officer):
    """EU GDPR, received 3 Sep 2025: due 3 Oct, 3 Dec 2025 once an extension is notified."""
    request = open_request(regime="eu_gdpr", received_at=aware(2025, 9, 3))
    with time_machine.travel(aware(2025, 9, 20), tick=False):
        letter = communication_send(
            request=request, template=LetterTemplate.EXTENSION_NOTICE, actor=officer, reason="Three organisations."
        )
    request.refresh_from_db()
    assert request.due_date == dt.date(2025, 10, 3)  # not delivered yet: not extended
    assert request.events.filter(type=EventType.EXTENSION_NOTIFIED).exists()

    with time_machine.travel(aware(2025, 9, 21), tick=False):
        assert communication_deliver(communication_id=letter.pk) is True
    request.refresh_from_db()
    assert request.due_date == dt.date(2025, 12, 3)


def test_a_failed_extension_notice_does_not_extend_and_a_new_one_can_be_sent(open_request, officer):
    request = open_request(regime="eu_gdpr", received_at=aware(2025, 9, 3))
    with time_machine.travel(aware(2025, 9, 20), tick=False):
        letter = communication_send(
            request=request, template=LetterTemplate.EXTENSION_NOTICE, actor=officer, reason="Three organisations."
        )
        Communication.objects.filter(pk=letter.pk).update(subject="Hello\nBcc: x@evil.example")
        communication_deliver(communication_id=letter.pk)
        again = communication_send(
            request=request, template=LetterTemplate.EXTENSION_NOTICE, actor=officer, reason="Three organisations."
        )
        communication_deliver(communication_id=again.pk)
    request.refresh_from_db()
    assert request.due_date == dt.date(2025, 12, 3)
