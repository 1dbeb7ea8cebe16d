"""Appeals of refusals (REGULATIONS §1b) through the paths people take: the API, the admin's posts as a
support agent, a compliance officer and an auditor, the letters, and the jobs and dashboard that count them.

The dated worked examples (Virginia day 60, Oregon 45, Colorado 45 + 60) are in ``test_deadlines.py``.
"""

import datetime as dt
import html
import re

import pytest
import time_machine
from django.core import mail
from django.urls import reverse
from django.utils import timezone

from jobs.models import PendingJob
from requests_app.models import (
    ApiClient,
    Appeal,
    Communication,
    EventType,
    LetterTemplate,
    RequestLine,
    RequestStatus,
)
from requests_app.selectors import dashboard_figures
from requests_app.services import (
    api_client_create,
    appeal_open,
    digests_send,
    escalations_send,
    rights_request_assign,
)
from tests.requests_app.conftest import aware


@pytest.fixture(autouse=True)
def midday():
    """Midday in London is the same date in every US zone: the receipt dates below are "today"."""
    with time_machine.travel(aware(2026, 6, 10, 12), tick=True):
        yield


def previewed(page: str) -> str:
    """The fingerprint of the decision a preview page showed (what *Send* sends)."""
    return re.search(r'name="previewed" value="([0-9a-f]{64})"', page).group(1)


def appeal_step(name, appeal):
    return reverse(f"admin:requests_app_appeal_{name}", args=[appeal.pk])


def log_url(request):
    return reverse("admin:requests_app_rightsrequest_appeal", args=[request.pk])


def now_fields(prefix="received_at"):
    moment = timezone.localtime() - dt.timedelta(minutes=10)
    return {f"{prefix}_0": moment.date().isoformat(), f"{prefix}_1": moment.strftime("%H:%M:%S")}


@pytest.fixture
def api(officer, client):
    """An integration's token and its client: ``api.post(reference, body)``."""
    _, token = api_client_create(name="Support desk", actor=officer)

    class Api:
        record = ApiClient.objects.get(name="Support desk")

        def post(self, reference, body, **headers):
            return client.post(
                f"/api/v1/rights-requests/{reference}/appeals/",
                body,
                content_type="application/json",
                HTTP_AUTHORIZATION=f"Bearer {token}",
                **headers,
            )

    return Api()


# --- The API ------------------------------------------------------------------------------------------


def test_an_integration_logs_an_appeal_of_a_virginia_refusal_and_reads_its_own_due_date(api, refused_request):
    request = refused_request(region="VA", api_client=api.record)
    body = {"lines": ["erasure"], "statement": "Please look again."}
    response = api.post(request.reference, body, HTTP_IDEMPOTENCY_KEY="appeal-1")
    assert response.status_code == 201, response.content
    [appeal] = response.json()["appeals"]
    received_on = timezone.localdate()
    assert appeal["regimes"] == ["vcdpa"]  # UK GDPR governs too, but gives no appeal
    assert appeal["lines"] == ["erasure"]
    assert appeal["due_date"] == (received_on + dt.timedelta(days=60)).isoformat()
    assert appeal["status"] == "received" and appeal["sla_state"] == "on_track"
    stored = Appeal.objects.get()
    assert stored.api_client == api.record and stored.channel == "api"
    letter = Communication.objects.get(appeal=stored, template=LetterTemplate.APPEAL_RECEIVED)
    assert "We have received your appeal" in letter.subject
    assert stored.request.events.filter(type=EventType.APPEAL_RECEIVED, appeal=stored).exists()
    # A retry with the same Idempotency-Key answers the same and logs nothing more.
    again = api.post(request.reference, body, HTTP_IDEMPOTENCY_KEY="appeal-1")
    assert again.status_code == 201 and again["Idempotent-Replayed"] == "true"
    assert Appeal.objects.count() == 1


def test_the_api_refuses_a_bad_appeal_with_field_errors_and_stores_nothing(api, refused_request, open_request):
    unanswered = open_request(regime="vcdpa", api_client=api.record, email="open@example.com")
    response = api.post(unanswered.reference, {})
    assert response.status_code == 400
    assert "not been answered" in response.json()["__all__"][0]

    mixed = refused_request(region="VA", rights=["access", "erasure"], refuse=["erasure"], api_client=api.record)
    fulfilled = api.post(mixed.reference, {"lines": ["access"]})
    assert fulfilled.status_code == 400
    assert fulfilled.json() == {"lines": ["Only a refused or partly fulfilled line can be appealed: access."]}
    unknown = api.post(mixed.reference, {"lines": ["not-a-right"], "received_at": "2999-01-01T00:00:00Z"})
    assert unknown.status_code == 400
    assert set(unknown.json()) == {"lines", "received_at"}
    other_client = refused_request(region="VA", email="someone.else@example.com")
    assert api.post(other_client.reference, {}).status_code == 404  # another client's (or staff's) request
    assert Appeal.objects.count() == 0
    # The same request, asked properly, is accepted.
    assert api.post(mixed.reference, {"lines": ["erasure"]}).status_code == 201
    assert list(Appeal.objects.get().lines.values_list("right__slug", flat=True)) == ["erasure"]


def test_no_appeal_where_no_governing_law_gives_one(api, refused_request):
    # A Californian: CCPA has no appeal in its statute, UK GDPR neither.
    californian = refused_request(region="CA", api_client=api.record)
    response = api.post(californian.reference, {})
    assert response.status_code == 400
    assert "No law governing these lines gives an appeal" in response.json()["__all__"][0]
    assert not Appeal.objects.exists()


# --- Letters ------------------------------------------------------------------------------------------


def test_only_refusals_under_a_law_with_appeals_carry_the_appeal_instructions(refused_request):
    virginia = refused_request(region="VA")
    californian = refused_request(region="CA", email="cal@example.com")
    va_letter = virginia.communications.get(template=LetterTemplate.PARTIAL_OR_REFUSAL).body
    ca_letter = californian.communications.get(template=LetterTemplate.PARTIAL_OR_REFUSAL).body
    assert "you can appeal it" in va_letter and "within 60 days of receiving your appeal" in va_letter
    assert "appeal" not in ca_letter
    colorado = refused_request(region="CO", email="co@example.com")
    co_letter = colorado.communications.get(template=LetterTemplate.PARTIAL_OR_REFUSAL).body
    assert "under Colorado CPA, within 45 days of receiving your appeal (or, if we tell you why" in co_letter


def test_appeal_letters_cannot_be_sent_from_the_generic_letter_page(client, officer, refused_request):
    request = refused_request(region="VA")
    client.force_login(officer)
    url = reverse("admin:requests_app_rightsrequest_letter", args=[request.pk])
    page = client.get(url).content.decode()
    assert 'value="partial_or_refusal"' in page and 'value="appeal_decision"' not in page
    response = client.post(url, {"template": "appeal_decision", "_send": "1", "body": "Upheld."})
    assert response.status_code == 200
    assert not Communication.objects.filter(template="appeal_decision").exists()


# --- The admin, by role -------------------------------------------------------------------------------


def test_an_agent_logs_an_appeal_received_by_email_and_an_auditor_cannot(client, agent, auditor, refused_request):
    request = refused_request(region="VA")
    body = {"channel": "email", "statement": "I want my data deleted.", **now_fields()}
    client.force_login(auditor)
    assert client.get(log_url(request)).status_code == 403
    assert client.post(log_url(request), body).status_code == 403
    assert not Appeal.objects.exists()

    client.force_login(agent)
    page = client.get(reverse("admin:requests_app_rightsrequest_change", args=[request.pk])).content.decode()
    assert log_url(request) in page  # the "Log an appeal" button
    response = client.post(log_url(request), body)
    assert response.status_code == 302
    appeal = Appeal.objects.get()
    assert appeal.created_by == agent and appeal.statement == "I want my data deleted."
    assert appeal.due_date == timezone.localdate() + dt.timedelta(days=60)
    # Agents read appeals but neither extend nor decide them.
    assert client.get(reverse("admin:requests_app_appeal_change", args=[appeal.pk])).status_code == 200
    assert client.get(appeal_step("decide", appeal)).status_code == 403
    assert client.post(appeal_step("decide", appeal), {"outcome": "reversed", "outcome_reason": "x"}).status_code == 403
    appeal.refresh_from_db()
    assert appeal.is_open


def test_a_rejected_appeal_form_keeps_what_was_typed(client, agent, refused_request):
    request = refused_request(region="CA")  # no appeal under CCPA or UK GDPR
    client.force_login(agent)
    response = client.post(log_url(request), {"channel": "post", "statement": "Typed by hand.", **now_fields()})
    assert response.status_code == 200
    page = response.content.decode()
    assert "No law governing these lines gives an appeal" in page
    assert "Typed by hand." in page
    assert not Appeal.objects.exists()


def test_an_officer_partly_reverses_an_appeal_and_the_reversed_line_reopens_with_its_own_due_date(
    client, officer, auditor, agent, refused_request
):
    request = refused_request(region="VA", rights=["access", "erasure"])
    appeal = appeal_open(request=request, actor=agent)
    access = request.lines.get(right__slug="access")

    client.force_login(auditor)
    decision = {"outcome": "partly_reversed", "outcome_reason": "", "reversed_lines": [access.pk]}
    assert client.post(appeal_step("decide", appeal), decision).status_code == 403

    client.force_login(officer)
    missing_reason = client.post(appeal_step("decide", appeal), decision)
    assert missing_reason.status_code == 200
    assert "Give the reasons" in missing_reason.content.decode()
    assert '<option value="partly_reversed" selected>' in missing_reason.content.decode()  # kept as chosen
    appeal.refresh_from_db()
    assert appeal.is_open

    decision["outcome_reason"] = "A copy of your data can be given without the investigation file."
    # The first post shows the answer the requester will get and decides nothing.
    preview = client.post(appeal_step("decide", appeal), decision)
    assert preview.status_code == 200
    page = preview.content.decode()
    assert "The answer the requester will get" in page and "without the investigation file" in page
    appeal.refresh_from_db()
    assert appeal.is_open and not appeal.request.communications.filter(template="appeal_decision").exists()
    response = client.post(appeal_step("decide", appeal), {**decision, "_send": "Send", "previewed": previewed(page)})
    assert response.status_code == 302
    appeal.refresh_from_db()
    assert appeal.outcome == "partly_reversed" and appeal.decided_by == officer and appeal.decided_on_time
    access.refresh_from_db()
    erasure = request.lines.get(right__slug="erasure")
    today = timezone.localdate()
    assert access.status == RequestLine.Status.OPEN and access.outcome == ""
    # Its regimes' periods again from today: UK GDPR's month is earlier than Virginia's 45 days.
    assert access.due_date is not None and today < access.due_date <= today + dt.timedelta(days=45)
    assert erasure.status == RequestLine.Status.COMPLETED and erasure.outcome == "refused"
    request.refresh_from_db()
    assert request.status == RequestStatus.IN_PROGRESS and request.due_date == access.due_date
    assert request.events.filter(type=EventType.LINE_REOPENED, line=access, appeal=appeal).exists()
    letter = Communication.objects.get(appeal=appeal, template=LetterTemplate.APPEAL_DECISION).body
    assert "changed part of our decision" in letter
    assert f"Access: we will do this by {access.due_date:%A} {access.due_date.day}" in letter
    assert "What we are still not doing:\n- Erasure" in letter
    assert "to the Virginia Attorney General" in letter


def test_a_reversed_appeal_reopens_every_appealed_line_and_its_letter_gives_no_complaint_route(
    officer, agent, refused_request
):
    from requests_app.services import appeal_decide

    request = refused_request(region="VA")
    appeal = appeal_open(request=request, actor=agent)
    appeal_decide(appeal=appeal, outcome="reversed", reason="The investigation has closed.", actor=officer)
    assert request.lines.get().status == RequestLine.Status.OPEN
    letter = Communication.objects.get(appeal=appeal, template=LetterTemplate.APPEAL_DECISION).body
    assert "we will now do what you asked" in letter and "Attorney General" not in letter


def test_an_officer_extends_a_colorado_appeal_with_notice_but_not_an_oregon_one(
    client, officer, agent, refused_request
):
    colorado = appeal_open(request=refused_request(region="CO"), actor=agent)
    oregon = appeal_open(request=refused_request(region="OR", email="or@example.com"), actor=agent)
    received = timezone.localdate()
    client.force_login(officer)
    body = {"at": received.isoformat(), "reason": "Your account spans three organisations."}
    assert client.post(appeal_step("extend", colorado), body).status_code == 302
    colorado.refresh_from_db()
    assert colorado.is_extended and colorado.due_date == received + dt.timedelta(days=105)
    notice = Communication.objects.get(appeal=colorado, template=LetterTemplate.APPEAL_EXTENSION_NOTICE)
    assert "Your account spans three organisations." in notice.body

    refused = client.post(appeal_step("extend", oregon), body)
    assert refused.status_code == 200
    assert "Oregon OCPA allows no extension of an appeal." in refused.content.decode()
    oregon.refresh_from_db()
    assert not oregon.is_extended and oregon.due_date == received + dt.timedelta(days=45)


def test_an_officer_assigns_an_appeal_and_an_auditor_cannot(client, officer, auditor, agent, refused_request):
    appeal = appeal_open(request=refused_request(region="VA"), actor=agent)
    url = reverse("admin:requests_app_appeal_change", args=[appeal.pk])
    client.force_login(auditor)
    assert 'name="_save"' not in client.get(url).content.decode()
    assert client.post(url, {"assignee": auditor.pk}).status_code == 403
    client.force_login(officer)
    assert client.post(url, {"assignee": agent.pk, "_save": "Save"}).status_code == 302
    appeal.refresh_from_db()
    assert appeal.assignee == agent


# --- Dashboard, digests and escalations ---------------------------------------------------------------


def test_the_dashboard_digest_and_escalations_count_appeals_like_requests(client, officer, agent, refused_request):
    request = refused_request(region="OR")
    rights_request_assign(request=request, assignee=officer, actor=officer)
    appeal = appeal_open(request=request, actor=agent)
    assert appeal.assignee == officer  # the request's handler
    due = appeal.due_date

    figures = dashboard_figures(today=due - dt.timedelta(days=3))
    assert figures.appeals.open_total == 1
    assert dict((state, count) for state, _label, count in figures.appeals.open_by_sla)["urgent"] == 1
    assert dashboard_figures(today=due + dt.timedelta(days=1)).appeals.overdue == 1
    client.force_login(officer)
    assert "Appeals of refusals" in client.get(reverse("admin:index")).content.decode()

    mail.outbox.clear()
    assert digests_send(today=due - dt.timedelta(days=20)) == 0  # not yet within 10 days
    assert digests_send(today=due - dt.timedelta(days=3)) == 1
    assert f"Appeal on {request.reference}" in mail.outbox[-1].body

    assert escalations_send(today=due) == 0
    assert escalations_send(today=due + dt.timedelta(days=1)) == 1
    assert escalations_send(today=due + dt.timedelta(days=1)) == 0  # once per missed date
    assert "appeal answer date missed" in mail.outbox[-1].body
    assert "Vera Hill" not in mail.outbox[-1].body  # references only


def test_the_decision_letter_is_previewed_exactly_as_sent_and_the_preview_writes_nothing(
    client, officer, agent, refused_request
):
    request = refused_request(region="VA", rights=["access", "erasure"])
    appeal = appeal_open(request=request, actor=agent)
    access = request.lines.get(right__slug="access")
    client.force_login(officer)
    jobs, events = PendingJob.objects.count(), request.events.count()
    decision = {
        "outcome": "partly_reversed",
        "outcome_reason": "Your data can be given without the investigation file.",
        "reversed_lines": [access.pk],
    }

    page = client.post(appeal_step("decide", appeal), decision).content.decode()

    # Nothing of the trial decision stays: no letter, no job, no event, the line still refused.
    appeal.refresh_from_db()
    access.refresh_from_db()
    assert appeal.is_open and access.outcome == "refused"
    assert (PendingJob.objects.count(), request.events.count()) == (jobs, events)
    assert not request.communications.filter(template="appeal_decision").exists()
    mail.outbox.clear()

    client.post(appeal_step("decide", appeal), {**decision, "_send": "Send", "previewed": previewed(page)})
    sent = request.communications.get(template="appeal_decision")
    # The letter stored (and emailed) is word for word the one previewed.
    assert html.escape(sent.subject) in page and html.escape(sent.body) in page


def test_a_decision_changed_after_its_preview_is_previewed_again_not_sent(client, officer, agent, refused_request):
    request = refused_request(region="VA", rights=["access", "erasure"])
    appeal = appeal_open(request=request, actor=agent)
    client.force_login(officer)
    upheld = {"outcome": "upheld", "outcome_reason": "The investigation file stays closed to requests."}
    page = client.post(appeal_step("decide", appeal), upheld).content.decode()

    # The officer changes the reasons after reading the preview, then presses Send.
    changed = {**upheld, "outcome_reason": "Kept closed while the investigation runs.", "_send": "Send"}
    response = client.post(appeal_step("decide", appeal), {**changed, "previewed": previewed(page)})

    assert response.status_code == 200
    again = response.content.decode()
    assert "The decision changed after its preview" in again and "Kept closed while the investigation runs." in again
    appeal.refresh_from_db()
    assert appeal.is_open and not request.communications.filter(template="appeal_decision").exists()
    # Sent once the new text was seen.
    client.post(appeal_step("decide", appeal), {**changed, "previewed": previewed(again)})
    appeal.refresh_from_db()
    assert appeal.outcome == "upheld" and appeal.outcome_reason == "Kept closed while the investigation runs."
