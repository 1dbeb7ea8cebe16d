"""Letters: rendered from templates, editable before sending, stored as sent, emailed once."""

import datetime as dt

import pytest
import time_machine
from django.core import mail
from django.core.exceptions import PermissionDenied, ValidationError

from config.celery_app import app as celery_app
from requests_app.models import Communication, EventType, LetterTemplate, Outcome, RefusalGround, RequestStatus
from requests_app.services import (
    communication_deliver,
    communication_preview,
    communication_render,
    communication_send,
    request_line_complete,
)
from tests.requests_app.conftest import aware


@pytest.fixture
def eager_tasks():
    """Run tasks in-process when enqueued (Celery's own eager mode), so on-commit delivery happens here."""
    celery_app.conf.task_always_eager = True
    yield
    celery_app.conf.task_always_eager = False


def test_acknowledgement_states_reference_rights_and_due_date(open_request, agent):
    request = open_request(regime="uk_gdpr", rights=["access", "erasure"], received_at=aware(2025, 9, 3))
    subject, body = communication_render(request=request, template=LetterTemplate.ACKNOWLEDGEMENT)
    assert request.reference in subject
    assert "Dear Ana Silva" in body
    assert "- Access\n- Erasure" in body
    assert "Friday 3 October 2025" in body


def test_sending_records_the_event_stores_the_copy_and_emails_it_once_on_commit(
    open_request, agent, django_capture_on_commit_callbacks, eager_tasks
):
    request = open_request(received_at=aware(2025, 9, 3))
    with django_capture_on_commit_callbacks(execute=True):
        letter = communication_send(request=request, template=LetterTemplate.ACKNOWLEDGEMENT, actor=agent)
    request.refresh_from_db()
    assert letter.event.type == EventType.ACKNOWLEDGED
    assert request.acknowledged_at is not None
    assert request.status == RequestStatus.IN_PROGRESS
    letter.refresh_from_db()
    assert letter.delivered_at is not None
    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == ["ana.silva@example.com"]
    assert mail.outbox[0].body == letter.body
    # A redelivered task sends nothing again.
    assert communication_deliver(communication_id=letter.pk) is False
    assert len(mail.outbox) == 1


def test_staff_edits_to_the_text_are_what_is_sent_and_stored(open_request, agent):
    request = open_request()
    letter = communication_send(
        request=request,
        template=LetterTemplate.ACKNOWLEDGEMENT,
        actor=agent,
        body_override="Dear Ana,\n\nWe have your request. Best, Studio",
        subject_override="Your request",
    )
    assert letter.edited is True
    assert letter.body == "Dear Ana,\n\nWe have your request. Best, Studio\n"
    assert letter.subject == "Your request"
    communication_deliver(communication_id=letter.pk)
    assert mail.outbox[-1].body == letter.body


def test_extension_notice_states_the_reason_and_the_new_date(open_request, officer):
    request = open_request(regime="eu_gdpr", received_at=aware(2025, 9, 3))
    with time_machine.travel(aware(2025, 9, 20), tick=False):
        subject, preview = communication_preview(
            request=request, template=LetterTemplate.EXTENSION_NOTICE, reason="Your account spans three organisations."
        )
    assert "Wednesday 3 December 2025" in preview
    letter = communication_send(
        request=request,
        template=LetterTemplate.EXTENSION_NOTICE,
        actor=officer,
        reason="Your account spans three organisations.",
        at=aware(2025, 9, 20),
    )
    assert "Your account spans three organisations." in letter.body
    assert "Wednesday 3 December 2025" in letter.body
    assert "complain to the data protection supervisory authority" in letter.body
    with time_machine.travel(aware(2025, 9, 20, 10, 5), tick=False):
        communication_deliver(communication_id=letter.pk)
    request.refresh_from_db()
    assert request.due_date == dt.date(2025, 12, 3)


def test_an_extension_notice_without_reason_sends_nothing(open_request, officer):
    request = open_request(regime="eu_gdpr", received_at=aware(2025, 9, 3))
    with pytest.raises(ValidationError):
        communication_send(request=request, template=LetterTemplate.EXTENSION_NOTICE, actor=officer, reason="")
    assert Communication.objects.count() == 0


def test_support_agents_cannot_send_decision_letters(open_request, agent):
    request = open_request()
    for template in [LetterTemplate.EXTENSION_NOTICE, LetterTemplate.COMPLETION, LetterTemplate.PARTIAL_OR_REFUSAL]:
        with pytest.raises(PermissionDenied):
            communication_send(request=request, template=template, actor=agent, reason="r")


def test_refusal_letter_gives_reasons_what_was_kept_and_the_right_to_complain(open_request, officer, verified):
    request = open_request(regime="uk_gdpr", rights=["access", "erasure"])
    verified(request)
    access, erasure = request.lines.order_by("right__display_order")
    with pytest.raises(ValidationError):
        communication_send(request=request, template=LetterTemplate.PARTIAL_OR_REFUSAL, actor=officer)
    request_line_complete(line=access, outcome=Outcome.FULFILLED, reason="", actor=officer)
    request_line_complete(
        line=erasure,
        outcome=Outcome.PARTIALLY_FULFILLED,
        reason="Invoices kept for 6 years under UK VAT rules.",
        refusal_ground=RefusalGround.LEGAL_OBLIGATION,
        actor=officer,
    )
    with pytest.raises(ValidationError):
        communication_send(request=request, template=LetterTemplate.COMPLETION, actor=officer)
    letter = communication_send(
        request=request,
        template=LetterTemplate.PARTIAL_OR_REFUSAL,
        actor=officer,
        context={"kept": [{"what": "Invoices", "why": "6 years, VAT Notice 700/21"}]},
    )
    assert "Erasure: partially fulfilled." in letter.body
    assert "The reason: the law requires us to keep some of this data." in letter.body
    assert "\n  Invoices kept for 6 years under UK VAT rules.\n" in letter.body
    assert "- Invoices: 6 years, VAT Notice 700/21.\n" in letter.body
    assert "the Information Commissioner's Office (ICO) (https://ico.org.uk/make-a-complaint/)" in letter.body
    communication_deliver(communication_id=letter.pk)
    request.refresh_from_db()
    assert (request.status, request.responded_at is not None) == (RequestStatus.RESPONDED, True)
    assert letter.event.type == EventType.RESPONDED


def test_letters_are_plain_text_without_html_escaping(open_request, agent):
    request = open_request(requester_name="Seán O'Brien & Co")
    _subject, body = communication_render(request=request, template=LetterTemplate.ACKNOWLEDGEMENT)
    assert "Dear Seán O'Brien & Co," in body


@pytest.mark.parametrize("template", LetterTemplate.values)
def test_every_letter_renders(open_request, template):
    subject, body = communication_render(request=open_request(), template=template, context={"reason": "why"})
    assert subject and body.startswith("Dear Ana Silva")
