"""Digests, escalations and reminders: the right people, once per day or per missed date."""

import pytest
import time_machine
from django.contrib.auth import get_user_model
from django.core import mail

from requests_app.models import EventType, NotificationSent
from requests_app.services import (
    digests_send,
    escalations_send,
    identity_reminders_send,
    paused_deadlines_refresh,
    request_event_add,
    rights_request_assign,
)
from tests.requests_app.conftest import aware


@pytest.fixture
def handler(officer):
    return officer


def test_daily_digest_lists_due_soon_and_overdue_requests_once_a_day(open_request, handler, officer):
    overdue = open_request(regime="eu_gdpr", received_at=aware(2025, 8, 1))  # due Mon 1 Sep 2025
    soon = open_request(regime="eu_gdpr", received_at=aware(2025, 9, 3), email="b@example.com")  # due 3 Oct
    later = open_request(regime="eu_gdpr", received_at=aware(2025, 9, 20), email="c@example.com")
    for request in (overdue, soon, later):
        rights_request_assign(request=request, assignee=handler, actor=officer)
    with time_machine.travel(aware(2025, 9, 26, 7), tick=False):
        assert digests_send() == 1
        assert digests_send() == 0
    assert len(mail.outbox) == 1
    body = mail.outbox[0].body
    assert overdue.reference in body and soon.reference in body and later.reference not in body
    assert "Ana Silva" not in body  # references only, no requester data in staff emails
    with time_machine.travel(aware(2025, 9, 27, 7), tick=False):
        assert digests_send() == 1


def test_escalation_tells_officers_once_per_missed_date(open_request, officer):
    ccpa = open_request(regime="ccpa", received_at=aware(2025, 11, 3))  # acknowledge by 18 Nov, due 18 Dec
    with time_machine.travel(aware(2025, 11, 18, 12), tick=False):
        assert escalations_send() == 0
    with time_machine.travel(aware(2025, 11, 19, 9), tick=False):
        assert escalations_send() == 1
        assert escalations_send() == 0
    assert "acknowledgement date missed" in mail.outbox[0].body
    assert mail.outbox[0].to == [officer.email]
    with time_machine.travel(aware(2025, 11, 20, 9), tick=False):
        assert escalations_send() == 0
    with time_machine.travel(aware(2025, 12, 19, 9), tick=False):
        assert escalations_send() == 1
    assert "due date missed" in mail.outbox[-1].body
    assert NotificationSent.objects.filter(request=ccpa).count() == 2


def test_acknowledged_requests_are_not_escalated_for_the_acknowledgement(open_request, agent, officer):
    request = open_request(regime="ccpa", received_at=aware(2025, 11, 3))
    request_event_add(request=request, type=EventType.ACKNOWLEDGED, at=aware(2025, 11, 4), actor=agent)
    with time_machine.travel(aware(2025, 11, 25, 9), tick=False):
        assert escalations_send() == 0


def test_identity_reminder_after_seven_days_once(open_request, agent, officer):
    request = open_request(regime="eu_gdpr", received_at=aware(2025, 9, 1))
    rights_request_assign(request=request, assignee=agent, actor=officer)
    request_event_add(request=request, type=EventType.IDENTITY_REQUESTED, at=aware(2025, 9, 2), actor=agent)
    with time_machine.travel(aware(2025, 9, 8, 9), tick=False):
        assert identity_reminders_send() == 0
    with time_machine.travel(aware(2025, 9, 9, 9), tick=False):
        assert identity_reminders_send() == 1
        assert identity_reminders_send() == 0
    assert mail.outbox[-1].to == [agent.email]
    assert "7 days" in mail.outbox[-1].subject


def test_unassigned_identity_reminders_go_to_officers(open_request, agent, officer):
    request = open_request(regime="eu_gdpr", received_at=aware(2025, 9, 1))
    request_event_add(request=request, type=EventType.IDENTITY_REQUESTED, at=aware(2025, 9, 2), actor=agent)
    with time_machine.travel(aware(2025, 9, 12, 9), tick=False):
        assert identity_reminders_send() == 1
    assert mail.outbox[-1].to == [officer.email]


def test_paused_deadline_refresh_moves_the_due_date_each_day(open_request, agent):
    request = open_request(regime="uk_gdpr", received_at=aware(2026, 2, 10))
    with time_machine.travel(aware(2026, 2, 12, 12), tick=False):
        request_event_add(request=request, type=EventType.CLARIFICATION_REQUESTED, at=aware(2026, 2, 12), actor=agent)
    request.refresh_from_db()
    first = request.due_date
    with time_machine.travel(aware(2026, 2, 15, 0, 5), tick=False):
        assert paused_deadlines_refresh() == 1
    request.refresh_from_db()
    assert (request.due_date - first).days == 3


def test_inactive_officers_get_no_escalations(open_request, officer):
    get_user_model().objects.filter(pk=officer.pk).update(is_active=False)
    open_request(regime="eu_gdpr", received_at=aware(2025, 8, 1))
    with time_machine.travel(aware(2025, 9, 26, 7), tick=False):
        assert escalations_send() == 0
