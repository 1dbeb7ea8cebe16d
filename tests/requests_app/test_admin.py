"""The admin: short intake form for agents, form errors that keep the input, steps by role,
line outcomes, CSV log, dashboard, and a changelist whose query count does not grow."""

import csv
import io

import pytest
from django.urls import reverse

from requests_app.models import EventType, Outcome, RequestLine, RightsRequest
from requests_app.services import communication_deliver, request_line_complete
from tests.requests_app.conftest import aware

ADD = "admin:requests_app_rightsrequest_add"


def step(name, request):
    return reverse(f"admin:requests_app_rightsrequest_{name}", args=[request.pk])


def intake_post(regime_pk, rights, **extra):
    return {
        "requester_name": "Ana Silva",
        "requester_email": "ana.silva@example.com",
        "account_ref": "",
        "regime": regime_pk,
        "rights": rights,
        "channel": "email",
        "received_at_0": "2025-09-03",
        "received_at_1": "09:30:00",
        "description": "Email to the privacy address.",
        **extra,
    }


def regime(code):
    from compliance.models import Regime

    return Regime.objects.get(code=code)


def right_pks(*slugs):
    from compliance.models import Right

    return [Right.objects.get(slug=slug).pk for slug in slugs]


def test_agents_get_the_short_intake_form_and_officers_the_full_one(client, agent, officer):
    client.force_login(agent)
    short = client.get(reverse(ADD)).content.decode()
    assert 'name="requester_email"' in short and 'name="assignee"' not in short
    client.force_login(officer)
    full = client.get(reverse(ADD)).content.decode()
    assert 'name="assignee"' in full and 'name="subject_type"' in full


def test_an_agent_logs_a_request_from_the_admin(client, agent):
    client.force_login(agent)
    response = client.post(reverse(ADD), intake_post(regime("uk_gdpr").pk, right_pks("access", "erasure")))
    assert response.status_code == 302
    request = RightsRequest.objects.get()
    assert request.created_by == agent
    assert sorted(request.lines.values_list("right__slug", flat=True)) == ["access", "erasure"]
    assert request.due_date.isoformat() == "2025-10-03"
    assert request.history.first().history_user == agent


def test_a_right_the_regime_does_not_grant_is_a_form_error_that_keeps_the_input(client, agent):
    client.force_login(agent)
    response = client.post(
        reverse(ADD),
        intake_post(regime("pipeda").pk, right_pks("limit_sensitive"), requester_email="ana@example.com"),
    )
    assert response.status_code == 200
    page = response.content.decode()
    assert "Canada PIPEDA and UK GDPR do not grant: limit_sensitive." in page
    assert 'value="ana@example.com"' in page
    assert RightsRequest.objects.count() == 0


def test_a_future_received_date_and_bad_email_are_form_errors(client, agent):
    client.force_login(agent)
    response = client.post(
        reverse(ADD),
        intake_post(regime("uk_gdpr").pk, right_pks("access"), requester_email="ana@", received_at_0="2099-01-01"),
    )
    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert "requester_email" in errors and "received_at" in errors


def test_change_page_shows_the_timeline_and_the_steps_the_role_may_take(client, agent, officer, open_request):
    request = open_request(received_at=aware(2025, 9, 3))
    client.force_login(agent)
    page = client.get(reverse("admin:requests_app_rightsrequest_change", args=[request.pk])).content.decode()
    assert "Timeline" in page and "Received" in page
    assert step("letter", request) in page and step("note", request) in page
    assert step("close", request) not in page and step("identity", request) not in page
    client.force_login(officer)
    page = client.get(reverse("admin:requests_app_rightsrequest_change", args=[request.pk])).content.decode()
    assert step("close", request) in page and step("identity", request) in page


def test_agents_cannot_reach_close_or_identity_steps(client, agent, open_request):
    request = open_request()
    client.force_login(agent)
    assert client.get(step("close", request)).status_code == 403
    assert client.post(step("close", request)).status_code == 403
    assert client.get(step("identity", request)).status_code == 403


def test_agents_cannot_extend_from_the_event_step(client, agent, open_request):
    request = open_request(received_at=aware(2025, 9, 3))
    client.force_login(agent)
    assert "extension_notified" not in client.get(step("event", request)).content.decode()
    response = client.post(step("event", request), {"type": "extension_notified", "at": "2025-09-10", "reason": "x"})
    assert response.status_code == 200
    assert not request.events.filter(type=EventType.EXTENSION_NOTIFIED).exists()


def test_an_extension_without_reason_is_a_form_error_that_keeps_the_date(client, officer, open_request):
    request = open_request(received_at=aware(2025, 9, 3))
    client.force_login(officer)
    response = client.post(step("event", request), {"type": "extension_notified", "at": "2025-09-10", "reason": ""})
    assert response.status_code == 200
    assert "Give the reason for the extension" in response.content.decode()
    assert 'value="2025-09-10"' in response.content.decode()
    response = client.post(
        step("event", request), {"type": "extension_notified", "at": "2025-09-10", "reason": "numerous"}
    )
    assert response.status_code == 302
    request.refresh_from_db()
    assert request.due_date.isoformat() == "2025-12-03"


def test_an_agent_previews_edits_and_sends_the_acknowledgement(client, agent, open_request):
    request = open_request(received_at=aware(2025, 9, 3))
    client.force_login(agent)
    preview = client.post(step("letter", request), {"template": "acknowledgement", "_preview": "1"})
    assert "Friday 3 October 2025" in preview.content.decode()
    response = client.post(
        step("letter", request),
        {"template": "acknowledgement", "subject": "Got it", "body": "Dear Ana, edited text.", "_send": "1"},
    )
    assert response.status_code == 302
    letter = request.communications.get()
    assert (letter.subject, letter.body, letter.edited) == ("Got it", "Dear Ana, edited text.\n", True)
    request.refresh_from_db()
    assert request.acknowledged_at is None  # stamped when the letter is delivered
    communication_deliver(communication_id=letter.pk)
    request.refresh_from_db()
    assert request.acknowledged_at is not None


def test_agents_cannot_send_decision_letters_from_the_admin(client, agent, open_request):
    request = open_request()
    client.force_login(agent)
    response = client.post(step("letter", request), {"template": "extension_notice", "reason": "x", "_send": "1"})
    assert response.status_code == 200
    assert request.communications.count() == 0


def test_an_agent_adds_a_note(client, agent, open_request):
    request = open_request()
    client.force_login(agent)
    assert client.post(step("note", request), {"body": "Called back."}).status_code == 302
    assert request.notes.get().body == "Called back."


def test_refusing_a_line_without_reason_is_a_form_error(client, officer, open_request):
    line = open_request().lines.get()
    client.force_login(officer)
    url = reverse("admin:requests_app_requestline_change", args=[line.pk])
    response = client.post(url, {"outcome": "refused", "outcome_reason": "", "refusal_ground": "", "evidence_note": ""})
    assert response.status_code == 200
    assert "Give the reason for anything short of fulfilled" in response.content.decode()
    response = client.post(
        url,
        {
            "outcome": "refused",
            "outcome_reason": "Fifth identical request.",
            "refusal_ground": "excessive",
            "evidence_note": "",
        },
    )
    assert "Record the evidence" in response.content.decode()
    response = client.post(
        url,
        {
            "outcome": "refused",
            "outcome_reason": "Fifth identical request.",
            "refusal_ground": "excessive",
            "evidence_note": "Four copies sent in March.",
        },
    )
    assert response.status_code == 302
    line.refresh_from_db()
    assert (line.status, line.outcome, line.completed_by) == ("completed", "refused", officer)


def test_agents_see_lines_read_only(client, agent, open_request):
    line = open_request().lines.get()
    client.force_login(agent)
    url = reverse("admin:requests_app_requestline_change", args=[line.pk])
    assert b'name="_save"' not in client.get(url).content
    client.post(url, {"outcome": "refused", "outcome_reason": "no"})
    line.refresh_from_db()
    assert line.status == RequestLine.Status.OPEN


def test_officer_closes_from_the_admin_once_lines_are_done(client, officer, open_request, verified):
    request = open_request()
    client.force_login(officer)
    response = client.post(step("close", request))
    assert "Complete every line" in response.content.decode()
    verified(request)
    request_line_complete(line=request.lines.get(), outcome=Outcome.FULFILLED, reason="", actor=officer)
    assert client.post(step("close", request)).status_code == 302
    request.refresh_from_db()
    assert request.status == "closed"


def test_request_log_csv_for_audits(client, auditor, open_request):
    request = open_request(received_at=aware(2025, 9, 3), rights=["access", "erasure"])
    open_request(received_at=aware(2025, 9, 4), email="=cmd@example.com", requester_name="=HYPERLINK()")
    client.force_login(auditor)
    response = client.get(reverse("admin:requests_app_rightsrequest_export_log"))
    assert response.status_code == 200
    rows = list(csv.reader(io.StringIO(response.content.decode())))
    assert rows[0] == ["reference", "regime", "rights", "received", "due", "closed", "outcome", "handler"]
    assert rows[1] == [request.reference, "uk_gdpr", "access erasure", "2025-09-03", "2025-10-03", "", "", ""]


def test_dashboard_shows_the_rights_request_panel(client, officer, open_request):
    open_request(received_at=aware(2025, 9, 3))
    client.force_login(officer)
    page = client.get(reverse("admin:index")).content.decode()
    assert "Rights requests" in page
    assert "overdue" in page
    assert "request log (CSV)" in page


def test_dashboard_figures(open_request, officer, verified):
    import time_machine

    from requests_app.selectors import dashboard_figures

    on_time = open_request(regime="eu_gdpr", received_at=aware(2025, 9, 3))
    late = open_request(regime="eu_gdpr", received_at=aware(2025, 8, 1), email="b@example.com")
    open_request(regime="eu_gdpr", received_at=aware(2025, 9, 25), email="c@example.com")  # due 27 Oct
    for request, closed_on in [(on_time, aware(2025, 9, 13)), (late, aware(2025, 9, 10))]:
        verified(request)
        request_line_complete(
            line=request.lines.get(), outcome=Outcome.FULFILLED, reason="", actor=officer, at=closed_on
        )
        from requests_app.services import rights_request_close

        rights_request_close(request=request, actor=officer, at=closed_on)
    with time_machine.travel(aware(2025, 10, 20, 12), tick=False):
        figures = dashboard_figures()
    assert figures.open_total == 1
    assert dict((s, c) for s, _l, c in figures.open_by_sla)["due_soon"] == 1
    assert figures.on_time_rate == 50.0
    assert figures.median_days_to_close == pytest.approx((10 + 40) / 2, abs=1)
    assert sum(week["received_total"] for week in figures.weekly) >= 2


@pytest.mark.parametrize("count", [5, 60])
def test_changelist_runs_a_fixed_number_of_queries(client, officer, open_request, count, django_assert_max_num_queries):
    for n in range(count):
        open_request(email=f"r{n}@example.com", rights=["access", "erasure"])
    client.force_login(officer)
    with django_assert_max_num_queries(14):
        response = client.get(reverse("admin:requests_app_rightsrequest_changelist") + "?sla=on_track")
    assert response.status_code == 200


def test_auditors_read_everything_but_take_no_step(client, auditor, open_request):
    request = open_request()
    client.force_login(auditor)
    page = client.get(reverse("admin:requests_app_rightsrequest_change", args=[request.pk]))
    assert page.status_code == 200 and b'name="_save"' not in page.content
    for name in ["letter", "event", "identity", "note", "close"]:
        assert client.get(step(name, request)).status_code == 403, name
        assert client.post(step(name, request), {"body": "x", "template": "acknowledgement"}).status_code == 403
    assert client.get(reverse("admin:requests_app_rightsrequest_export_log")).status_code == 200
    assert not request.notes.exists() and not request.communications.exists()


def test_officers_recompute_open_requests_after_correcting_a_regime(client, officer, open_request):
    from compliance.models import Regime

    request = open_request(regime="fadp", received_at=aware(2025, 6, 2))
    assert request.due_date.isoformat() == "2025-07-02"
    Regime.objects.filter(code="fadp").update(response_period=20)
    client.force_login(officer)
    response = client.post(
        reverse("admin:requests_app_rightsrequest_changelist"),
        {"action": "recompute_deadlines", "_selected_action": [request.pk]},
    )
    assert response.status_code == 302
    request.refresh_from_db()
    assert request.due_date.isoformat() == "2025-06-22"


def test_a_letter_sent_as_previewed_is_not_marked_edited_and_a_changed_one_is(client, officer, open_request):
    request = open_request(received_at=aware(2025, 9, 3))
    client.force_login(officer)
    preview = client.post(step("letter", request), {"template": "acknowledgement", "_preview": "1"})
    form = preview.context["form"]
    subject, body = form["subject"].value(), form["body"].value()
    assert "Dear Ana Silva" in body
    # As a browser sends it: the textarea's lines end with CRLF.
    sent = client.post(
        step("letter", request),
        {"template": "acknowledgement", "subject": subject, "body": body.replace("\n", "\r\n"), "_send": "1"},
    )
    assert sent.status_code == 302
    letter = request.communications.get()
    assert letter.edited is False and letter.body == body.strip() + "\n" and "\r" not in letter.body
    page = client.get(reverse("admin:requests_app_rightsrequest_change", args=[request.pk])).content.decode()
    assert "Letter sent: Acknowledgement" in page and "(edited)" not in page

    preview = client.post(step("letter", request), {"template": "identity_request", "_preview": "1"})
    body = preview.context["form"]["body"].value()
    changed = body.replace("Before we can act", "Before we can act (we are sorry for the delay)")
    client.post(
        step("letter", request),
        {
            "template": "identity_request",
            "subject": preview.context["form"]["subject"].value(),
            "body": changed.replace("\n", "\r\n"),
            "_send": "1",
        },
    )
    letter = request.communications.get(template="identity_request")
    assert letter.edited is True and "we are sorry for the delay" in letter.body
    page = client.get(reverse("admin:requests_app_rightsrequest_change", args=[request.pk])).content.decode()
    assert "(edited)" in page


@pytest.mark.parametrize(
    ("template", "missing", "part"),
    [
        ("extension_notice", "Give the reason for the extension", "We need to search an archive kept offline."),
        ("clarification_request", "Write the question to ask", "Which of your two accounts is this about?"),
    ],
)
def test_a_letter_without_its_required_part_is_neither_previewed_nor_sent(
    client, officer, open_request, template, missing, part
):
    request = open_request()
    client.force_login(officer)
    preview = client.post(step("letter", request), {"template": template, "reason": "  ", "_preview": "1"})
    assert preview.status_code == 200
    assert missing in preview.content.decode()
    assert not preview.context["form"]["body"].value()  # no letter with a blank where the reason goes
    sent = client.post(step("letter", request), {"template": template, "reason": "", "body": "Dear Ana,", "_send": "1"})
    assert sent.status_code == 200 and missing in sent.content.decode()
    assert sent.context["form"]["body"].value() == "Dear Ana,"  # what was typed is kept
    assert request.communications.count() == 0

    preview = client.post(step("letter", request), {"template": template, "reason": part, "_preview": "1"})
    body = preview.context["form"]["body"].value()
    assert part in body and missing not in preview.content.decode()
    sent = client.post(
        step("letter", request),
        {
            "template": template,
            "reason": part,
            "subject": preview.context["form"]["subject"].value(),
            "body": body,
            "_send": "1",
        },
    )
    assert sent.status_code == 302, sent.context["form"].errors
    assert part in request.communications.get().body
