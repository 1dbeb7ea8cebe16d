"""Intake, ledger, lines and closing through the services, including who may do what."""

import datetime as dt

import pytest
import time_machine
from django.core.exceptions import PermissionDenied, ValidationError

from requests_app.models import (
    EventType,
    IdentityOutcome,
    Outcome,
    RefusalGround,
    RequestLine,
    RequestStatus,
    RightsRequest,
)
from requests_app.selectors import request_sla
from requests_app.services import (
    request_event_add,
    request_line_complete,
    rights_request_close,
    rights_request_identity_record,
    rights_request_update,
)
from tests.requests_app.conftest import aware

D = dt.date


def errors_of(excinfo) -> dict:
    return excinfo.value.message_dict


# --- intake --------------------------------------------------------------------------------------


@time_machine.travel(aware(2026, 3, 2), tick=False)
def test_intake_creates_one_line_per_right_a_received_event_and_the_deadlines(open_request):
    request = open_request(regime="uk_gdpr", rights=["access", "erasure"], received_at=aware(2026, 3, 2, 9))
    assert request.reference == "DSR-2026-00001"
    assert [line.right.slug for line in request.lines.order_by("right__display_order")] == ["access", "erasure"]
    assert list(request.events.values_list("type", flat=True)) == [EventType.RECEIVED]
    assert request.due_date == D(2026, 4, 2)
    assert request.target_date == D(2026, 3, 30)
    assert request.acknowledge_by is None
    assert request.status == RequestStatus.RECEIVED
    assert set(request.lines.values_list("due_date", flat=True)) == {D(2026, 4, 2)}


@time_machine.travel(aware(2026, 3, 2), tick=False)
def test_references_are_sequential_per_year(open_request):
    first = open_request()
    second = open_request(email="other@example.com")
    assert (first.reference, second.reference) == ("DSR-2026-00001", "DSR-2026-00002")
    # Numbered as the intake's last write: the provisional reference never reaches the record or its history.
    assert RightsRequest.objects.get(pk=first.pk).reference == "DSR-2026-00001"
    assert set(first.history.values_list("reference", flat=True)) == {"DSR-2026-00001"}


def test_intake_reports_every_bad_field_at_once(open_request):
    with pytest.raises(ValidationError) as excinfo:
        open_request(
            regime="pipeda",
            rights=["limit_sensitive", "teleport"],
            email="not-an-email",
            received_at=aware(2099, 1, 1),
            requester_name=" ",
        )
    errors = errors_of(excinfo)
    assert set(errors) == {"rights", "requester_email", "received_at", "requester_name"}
    assert "Unknown right: teleport." in errors["rights"]
    # Every governing regime is asked: the requester's and the controller's own (REGULATIONS §1a).
    assert "Canada PIPEDA and UK GDPR do not grant: limit_sensitive." in errors["rights"]
    assert RightsRequest.objects.count() == 0


def test_intake_rejects_an_unknown_regime(open_request):
    with pytest.raises(ValidationError) as excinfo:
        open_request(regime="mars")
    assert errors_of(excinfo) == {"regime": ["Unknown regime 'mars'."]}


def test_intake_rejects_no_rights_and_repeated_rights(open_request):
    with pytest.raises(ValidationError) as excinfo:
        open_request(rights=[])
    assert "rights" in errors_of(excinfo)
    with pytest.raises(ValidationError) as excinfo:
        open_request(rights=["access", "access"])
    assert errors_of(excinfo)["rights"] == ["Each right can be asked for once per request."]


def test_a_second_open_request_for_the_same_right_is_flagged_as_a_possible_duplicate(open_request):
    first = open_request(rights=["access"], email="Ana.Silva@Example.com")
    second = open_request(rights=["erasure", "access"], email="ana.silva@example.com")
    other_right = open_request(rights=["rectification"])
    assert second.possible_duplicate_of == first
    assert other_right.possible_duplicate_of is None
    assert first.requester_email == "ana.silva@example.com"


def test_a_closed_request_is_not_a_duplicate_candidate(open_request, officer, verified):
    first = open_request(rights=["access"])
    verified(first)
    request_line_complete(line=first.lines.get(), outcome=Outcome.FULFILLED, reason="", actor=officer)
    rights_request_close(request=first, actor=officer)
    assert open_request(rights=["access"]).possible_duplicate_of is None


def test_ccpa_opt_out_alone_needs_no_identity_verification(open_request):
    request = open_request(regime="ccpa", rights=["opt_out"])
    assert request.identity_outcome == IdentityOutcome.NOT_REQUIRED
    with pytest.raises(ValidationError) as excinfo:
        request_event_add(request=request, type=EventType.IDENTITY_REQUESTED, at=request.received_at, actor=None)
    assert "type" in errors_of(excinfo)


def test_ccpa_access_needs_identity_verification(open_request):
    assert open_request(regime="ccpa", rights=["access", "opt_out"]).identity_outcome == IdentityOutcome.PENDING


def test_agents_cannot_edit_but_officers_can_correct_the_regime_and_deadlines_follow(open_request, agent, officer):
    request = open_request(regime="uk_gdpr", received_at=aware(2025, 9, 3))
    with pytest.raises(PermissionDenied):
        rights_request_update(request=request, actor=agent, description="x")
    assert request.acknowledge_by is None
    rights_request_update(request=request, actor=officer, regime=request.regime.__class__.objects.get(code="ccpa"))
    request.refresh_from_db()
    # CCPA now governs too: its acknowledgement is due; UK GDPR (the controller's) keeps the earlier answer date.
    assert request.acknowledge_by == D(2025, 9, 17)
    assert request.due_date == D(2025, 10, 3)
    assert set(request.applicable_regimes.values_list("code", flat=True)) == {"ccpa", "uk_gdpr"}


# --- events and deadlines --------------------------------------------------------------------------


def test_an_extension_needs_a_reason(open_request, officer):
    request = open_request(received_at=aware(2025, 9, 3))
    with pytest.raises(ValidationError) as excinfo:
        request_event_add(request=request, type=EventType.EXTENSION_NOTIFIED, at=D(2025, 9, 10), actor=officer)
    assert "reason" in errors_of(excinfo)


def test_an_extension_after_the_due_date_is_refused(open_request, officer):
    request = open_request(received_at=aware(2025, 9, 3))
    with pytest.raises(ValidationError) as excinfo:
        request_event_add(
            request=request, type=EventType.EXTENSION_NOTIFIED, at=D(2025, 10, 6), reason="complex", actor=officer
        )
    assert "on or before the due date (3 October 2025)" in errors_of(excinfo)["at"][0]


def test_an_extension_moves_the_due_date_and_is_recorded_once(open_request, officer):
    request = open_request(received_at=aware(2025, 9, 3))
    request_event_add(
        request=request, type=EventType.EXTENSION_NOTIFIED, at=D(2025, 9, 20), reason="numerous", actor=officer
    )
    request.refresh_from_db()
    assert (request.due_date, request.is_extended) == (D(2025, 12, 3), True)
    with pytest.raises(ValidationError) as excinfo:
        request_event_add(
            request=request, type=EventType.EXTENSION_NOTIFIED, at=D(2025, 9, 21), reason="again", actor=officer
        )
    assert errors_of(excinfo)["type"] == ["The request has already been extended."]


def test_a_regime_without_extension_refuses_one(open_request, officer):
    request = open_request(regime="quebec", received_at=aware(2025, 9, 3))
    with pytest.raises(ValidationError) as excinfo:
        request_event_add(
            request=request, type=EventType.EXTENSION_NOTIFIED, at=D(2025, 9, 5), reason="busy", actor=officer
        )
    assert errors_of(excinfo)["type"] == ["Quebec Law 25 allows no extension."]


def test_support_agents_cannot_extend(open_request, agent):
    request = open_request(received_at=aware(2025, 9, 3))
    with pytest.raises(PermissionDenied):
        request_event_add(
            request=request, type=EventType.EXTENSION_NOTIFIED, at=D(2025, 9, 5), reason="busy", actor=agent
        )


def test_events_cannot_be_in_the_future_or_before_receipt(open_request, agent):
    request = open_request(received_at=aware(2025, 9, 3))
    with pytest.raises(ValidationError) as excinfo:
        request_event_add(request=request, type=EventType.ACKNOWLEDGED, at=D(2099, 1, 1), actor=agent)
    assert "at" in errors_of(excinfo)
    with pytest.raises(ValidationError) as excinfo:
        request_event_add(request=request, type=EventType.ACKNOWLEDGED, at=D(2025, 9, 1), actor=agent)
    assert errors_of(excinfo)["at"] == ["An event cannot be before the request was received."]


def test_only_ledger_steps_can_be_added_directly(open_request, agent):
    request = open_request()
    with pytest.raises(ValidationError) as excinfo:
        request_event_add(request=request, type=EventType.CLOSED, at=request.received_at, actor=agent)
    assert "type" in errors_of(excinfo)


def test_uk_identity_received_restarts_the_clock_and_status_follows(open_request, agent):
    request = open_request(regime="uk_gdpr", received_at=aware(2026, 2, 10))
    request_event_add(request=request, type=EventType.IDENTITY_REQUESTED, at=D(2026, 2, 11), actor=agent)
    request.refresh_from_db()
    assert request.status == RequestStatus.AWAITING_IDENTITY
    request_event_add(request=request, type=EventType.IDENTITY_RECEIVED, at=D(2026, 2, 17), actor=agent)
    request.refresh_from_db()
    assert (request.status, request.clock_started_on, request.due_date) == (
        RequestStatus.IN_PROGRESS,
        D(2026, 2, 17),
        D(2026, 3, 17),
    )


def test_uk_clarification_pauses_the_clock_and_the_answer_restarts_it(open_request, agent):
    request = open_request(regime="uk_gdpr", received_at=aware(2026, 2, 10))
    with time_machine.travel(aware(2026, 2, 12), tick=False):
        request_event_add(request=request, type=EventType.CLARIFICATION_REQUESTED, at=D(2026, 2, 12), actor=agent)
    request.refresh_from_db()
    assert request.status == RequestStatus.AWAITING_CLARIFICATION
    assert request.paused_since == D(2026, 2, 12)
    with time_machine.travel(aware(2026, 2, 12), tick=False):
        assert request_sla(request) == "paused"
    with pytest.raises(ValidationError):
        request_event_add(request=request, type=EventType.CLARIFICATION_REQUESTED, at=D(2026, 2, 13), actor=agent)
    request_event_add(request=request, type=EventType.CLARIFICATION_RECEIVED, at=D(2026, 2, 20), actor=agent)
    request.refresh_from_db()
    assert (request.paused_days, request.paused_since, request.due_date) == (8, None, D(2026, 3, 18))


def test_a_clarification_answer_without_a_question_is_refused(open_request, agent):
    request = open_request()
    with pytest.raises(ValidationError) as excinfo:
        request_event_add(request=request, type=EventType.CLARIFICATION_RECEIVED, at=request.received_at, actor=agent)
    assert errors_of(excinfo)["type"] == ["No clarification was asked for."]


def test_ccpa_acknowledgement_date_and_opt_out_line_date(open_request):
    request = open_request(regime="ccpa", rights=["access", "opt_out"], received_at=aware(2025, 11, 3))
    assert request.acknowledge_by == D(2025, 11, 18)
    assert request.due_date == D(2025, 11, 25)
    # Access: UK GDPR (the controller's, 3 Dec) is earlier than CCPA's 45 days (18 Dec).
    assert dict(request.lines.values_list("right__slug", "due_date")) == {
        "access": D(2025, 12, 3),
        "opt_out": D(2025, 11, 25),
    }


def test_sla_state_moves_with_time(open_request):
    request = open_request(regime="eu_gdpr", received_at=aware(2025, 9, 3))  # due Fri 3 Oct 2025
    for today, state in [
        (aware(2025, 9, 20), "on_track"),
        (aware(2025, 9, 24), "due_soon"),
        (aware(2025, 9, 29), "urgent"),
        (aware(2025, 10, 3, 23), "urgent"),
        (aware(2025, 10, 4), "overdue"),
    ]:
        with time_machine.travel(today, tick=False):
            assert request_sla(request) == state, today


# --- lines and closing -------------------------------------------------------------------------


def test_refusal_without_reason_is_refused(open_request, officer):
    line = open_request().lines.get()
    with pytest.raises(ValidationError) as excinfo:
        request_line_complete(line=line, outcome=Outcome.REFUSED, reason=" ", actor=officer)
    assert "outcome_reason" in errors_of(excinfo)
    line.refresh_from_db()
    assert line.status == RequestLine.Status.OPEN


@pytest.mark.parametrize("ground", [RefusalGround.MANIFESTLY_UNFOUNDED, RefusalGround.EXCESSIVE])
def test_manifestly_unfounded_or_excessive_needs_evidence(open_request, officer, ground):
    line = open_request().lines.get()
    with pytest.raises(ValidationError) as excinfo:
        request_line_complete(
            line=line, outcome=Outcome.REFUSED, reason="fifth identical request", refusal_ground=ground, actor=officer
        )
    assert "evidence_note" in errors_of(excinfo)
    request_line_complete(
        line=line,
        outcome=Outcome.REFUSED,
        reason="fifth identical request",
        refusal_ground=ground,
        evidence_note="four copies sent in March",
        actor=officer,
    )
    line.refresh_from_db()
    assert (line.outcome, line.evidence_note) == (Outcome.REFUSED, "four copies sent in March")


def test_fulfilling_needs_identity_verified_first(open_request, officer, verified):
    request = open_request()
    with pytest.raises(ValidationError) as excinfo:
        request_line_complete(line=request.lines.get(), outcome=Outcome.FULFILLED, reason="", actor=officer)
    assert errors_of(excinfo)["outcome"] == ["Record the requester's identity verification before fulfilling."]
    verified(request)
    request_line_complete(line=request.lines.get(), outcome=Outcome.FULFILLED, reason="", actor=officer)


def test_opt_out_is_fulfilled_without_identity(open_request, officer):
    request = open_request(regime="ccpa", rights=["opt_out"])
    request_line_complete(line=request.lines.get(), outcome=Outcome.FULFILLED, reason="", actor=officer)
    assert request.lines.get().outcome == Outcome.FULFILLED


def test_support_agents_cannot_complete_refuse_close_or_verify(open_request, agent):
    request = open_request()
    line = request.lines.get()
    with pytest.raises(PermissionDenied):
        request_line_complete(line=line, outcome=Outcome.REFUSED, reason="no", actor=agent)
    with pytest.raises(PermissionDenied):
        rights_request_close(request=request, actor=agent)
    with pytest.raises(PermissionDenied):
        rights_request_identity_record(request=request, method="account_login", outcome="verified", actor=agent)


def test_completing_a_line_twice_with_the_same_outcome_changes_nothing(open_request, officer):
    line = open_request().lines.get()
    request_line_complete(line=line, outcome=Outcome.WITHDRAWN, reason="withdrawn by email", actor=officer)
    again = request_line_complete(line=line, outcome=Outcome.WITHDRAWN, reason="withdrawn by email", actor=officer)
    assert again.outcome == Outcome.WITHDRAWN
    assert line.request.events.filter(type=EventType.LINE_COMPLETED).count() == 1
    with pytest.raises(ValidationError):
        request_line_complete(line=line, outcome=Outcome.REFUSED, reason="x", actor=officer)


def test_closing_needs_every_line_completed(open_request, officer, verified):
    request = open_request(rights=["access", "erasure"])
    verified(request)
    access, erasure = request.lines.order_by("right__display_order")
    request_line_complete(line=access, outcome=Outcome.FULFILLED, reason="", actor=officer)
    with pytest.raises(ValidationError):
        rights_request_close(request=request, actor=officer)
    request_line_complete(
        line=erasure,
        outcome=Outcome.PARTIALLY_FULFILLED,
        reason="invoices kept 6 years",
        refusal_ground=RefusalGround.LEGAL_OBLIGATION,
        actor=officer,
    )
    assert request.events.filter(type=EventType.FULFILLED).count() == 1
    closed = rights_request_close(request=request, actor=officer)
    assert (closed.status, closed.outcome, closed.closed_on_time) == (
        RequestStatus.CLOSED,
        Outcome.PARTIALLY_FULFILLED,
        True,
    )
    with pytest.raises(ValidationError):
        request_event_add(request=closed, type=EventType.ACKNOWLEDGED, at=closed.received_at, actor=officer)


def test_closing_after_the_due_date_is_recorded_as_late(open_request, officer, verified):
    request = open_request(regime="eu_gdpr", received_at=aware(2025, 9, 3))
    verified(request)
    request_line_complete(
        line=request.lines.get(), outcome=Outcome.FULFILLED, reason="", actor=officer, at=aware(2025, 10, 10)
    )
    closed = rights_request_close(request=request, actor=officer, at=aware(2025, 10, 10))
    assert closed.closed_on_time is False


def test_the_database_refuses_a_shortfall_without_reason_even_bypassing_services(open_request):
    from django.db import IntegrityError, transaction

    line = open_request().lines.get()
    with pytest.raises(IntegrityError), transaction.atomic():
        RequestLine.objects.filter(pk=line.pk).update(
            status="completed", outcome=Outcome.REFUSED, outcome_reason="", completed_at=line.request.received_at
        )
