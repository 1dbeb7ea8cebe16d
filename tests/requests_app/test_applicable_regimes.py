"""Every applicable regime on a request (REGULATIONS §1a): intake, lines, dates, staff corrections,
extensions, letters, the API and the admin."""

import datetime as dt
import json
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core.exceptions import PermissionDenied, ValidationError
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from compliance.models import Regime
from requests_app.models import EventType, Outcome, RequestEvent, RightsRequest
from requests_app.services import (
    api_client_create,
    communication_preview,
    request_event_add,
    request_line_complete,
    rights_request_regime_add,
    rights_request_regime_drop,
)
from tests.requests_app.conftest import aware

D = dt.date


def errors_of(excinfo) -> dict:
    return excinfo.value.message_dict


def codes(request):
    return set(request.applicable_regimes.values_list("code", flat=True))


def line_regimes(request):
    return {line.right.slug: sorted(r.code for r in line.regimes.all()) for line in request.lines.all()}


CALIFORNIA_1630 = dt.datetime(2026, 3, 31, 16, 30, tzinfo=ZoneInfo("America/Los_Angeles"))


# --- intake --------------------------------------------------------------------------------------


@time_machine.travel(dt.datetime(2026, 4, 2, 12, tzinfo=dt.UTC), tick=False)
def test_a_californian_restriction_is_accepted_under_uk_gdpr_due_on_the_uk_date_with_the_ccpa_ack(open_request):
    request = open_request(
        regime=None,
        requester_country="US",
        requester_region="ca",
        rights=["restriction", "access"],
        received_at=CALIFORNIA_1630,
    )
    assert request.regime.code == "ccpa"  # derived: the most specific law of the residence
    assert codes(request) == {"uk_gdpr", "ccpa"}
    assert line_regimes(request) == {"access": ["ccpa", "uk_gdpr"], "restriction": ["uk_gdpr"]}
    # Received 31 Mar in California (1 Apr in London): UK month to 30 Apr; CCPA acknowledgement 14 Apr.
    assert dict(request.lines.values_list("right__slug", "due_date")) == {
        "access": D(2026, 4, 30),
        "restriction": D(2026, 4, 30),
    }
    assert request.acknowledge_by == D(2026, 4, 14)


def test_a_right_no_governing_regime_grants_is_refused_naming_them(open_request):
    with pytest.raises(ValidationError) as excinfo:
        open_request(regime="pipeda", rights=["limit_sensitive"])
    assert errors_of(excinfo) == {"rights": ["Canada PIPEDA and UK GDPR do not grant: limit_sensitive."]}
    # The same right for a Californian: CCPA grants it.
    assert open_request(regime=None, requester_country="US", requester_region="CA", rights=["limit_sensitive"])


def test_a_law_the_team_says_does_not_apply_to_us_is_not_brought_in(open_request):
    Regime.objects.filter(code="vcdpa").update(applies_to_us=False)
    request = open_request(regime=None, requester_country="US", requester_region="VA", rights=["access"])
    assert codes(request) == {"uk_gdpr"}
    assert request.regime.code == "uk_gdpr"
    Regime.objects.filter(code="vcdpa").update(applies_to_us=True)
    again = open_request(
        regime=None, requester_country="US", requester_region="VA", rights=["access"], email="b@example.com"
    )
    assert codes(again) == {"uk_gdpr", "vcdpa"}


def test_a_quebec_requester_is_governed_by_quebec_pipeda_and_uk_gdpr(open_request):
    request = open_request(regime=None, requester_country="CA", requester_region="QC", rights=["erasure"])
    assert request.regime.code == "quebec"
    assert codes(request) == {"quebec", "pipeda", "uk_gdpr"}
    assert line_regimes(request) == {"erasure": ["quebec", "uk_gdpr"]}


def test_intake_rejects_an_unknown_country_and_a_region_without_country(open_request):
    with pytest.raises(ValidationError) as excinfo:
        open_request(regime=None, requester_country="XX", requester_region="")
    assert errors_of(excinfo) == {"requester_country": ["Unknown country code."]}
    with pytest.raises(ValidationError) as excinfo:
        open_request(regime=None, requester_country="", requester_region="CA")
    assert errors_of(excinfo) == {"requester_region": ["Give the country of the state or province."]}
    with pytest.raises(ValidationError) as excinfo:
        open_request(regime=None, requester_country="US", requester_region="ZZ")
    assert errors_of(excinfo) == {"requester_region": ["Unknown state or province code for this country."]}
    assert RightsRequest.objects.count() == 0


# --- staff add or drop a regime ---------------------------------------------------------------------


def test_an_officer_adds_a_regime_with_a_reason_and_the_lines_follow(open_request, officer, agent):
    request = open_request(regime="uk_gdpr", rights=["access"], received_at=aware(2026, 3, 2))
    assert request.due_date == D(2026, 4, 2)
    quebec = Regime.objects.get(code="quebec")
    with pytest.raises(PermissionDenied):
        rights_request_regime_add(request=request, regime=quebec, reason="Lives in Montreal.", actor=agent)
    with pytest.raises(ValidationError) as excinfo:
        rights_request_regime_add(request=request, regime=quebec, reason=" ", actor=officer)
    assert "reason" in errors_of(excinfo)
    rights_request_regime_add(request=request, regime=quebec, reason="Lives in Montreal.", actor=officer)
    request.refresh_from_db()
    assert codes(request) == {"uk_gdpr", "quebec"}
    assert line_regimes(request) == {"access": ["quebec", "uk_gdpr"]}
    assert request.due_date == D(2026, 4, 1)  # Quebec's 30 days come first
    event = RequestEvent.objects.get(request=request, type=EventType.REGIME_ADDED)
    assert (event.regime, event.reason, event.actor) == (quebec, "Lives in Montreal.", officer)

    rights_request_regime_drop(request=request, regime=quebec, reason="Moved to London.", actor=officer)
    request.refresh_from_db()
    assert codes(request) == {"uk_gdpr"}
    assert request.due_date == D(2026, 4, 2)
    assert RequestEvent.objects.filter(request=request, type=EventType.REGIME_DROPPED, regime=quebec).exists()


def test_a_regime_cannot_be_dropped_when_a_line_would_have_no_law_granting_it(open_request, officer):
    request = open_request(regime=None, requester_country="US", requester_region="CA", rights=["opt_out"])
    uk = Regime.objects.get(code="uk_gdpr")
    with pytest.raises(ValidationError) as excinfo:
        rights_request_regime_drop(request=request, regime=request.regime, reason="x", actor=officer)
    assert "primary regime" in errors_of(excinfo)["regime"][0]
    rights_request_regime_drop(request=request, regime=uk, reason="Test of a lone regime.", actor=officer)
    rights_request_regime_add(request=request, regime=uk, reason="Back: UK-established.", actor=officer)
    eu = Regime.objects.get(code="eu_gdpr")
    rights_request_regime_add(request=request, regime=eu, reason="Also lives in Ireland.", actor=officer)
    request.refresh_from_db()
    assert codes(request) == {"uk_gdpr", "ccpa", "eu_gdpr"}


# --- extensions and letters --------------------------------------------------------------------------


@time_machine.travel(dt.datetime(2026, 3, 20, 12, tzinfo=dt.UTC), tick=False)
def test_a_quebec_line_keeps_its_date_so_an_extension_that_moves_nothing_is_refused(open_request, officer):
    request = open_request(regime="quebec", rights=["access"], received_at=aware(2026, 3, 2))
    with pytest.raises(ValidationError) as excinfo:
        request_event_add(
            request=request, type=EventType.EXTENSION_NOTIFIED, at=D(2026, 3, 20), reason="Complex.", actor=officer
        )
    assert errors_of(excinfo) == {"type": ["Quebec Law 25 allows no extension."]}


@time_machine.travel(dt.datetime(2026, 3, 20, 12, tzinfo=dt.UTC), tick=False)
def test_a_swiss_extension_needs_the_date_the_officer_chose_and_moves_the_line_there(open_request, officer):
    request = open_request(regime="fadp", rights=["access"], received_at=aware(2026, 3, 2))
    assert request.due_date == D(2026, 4, 1)
    with pytest.raises(ValidationError) as excinfo:
        request_event_add(
            request=request, type=EventType.EXTENSION_NOTIFIED, at=D(2026, 3, 20), reason="Archives.", actor=officer
        )
    assert errors_of(excinfo) == {
        "extended_to": ["Swiss FADP: give the date the requester is told the answer will come by."]
    }
    request_event_add(
        request=request,
        type=EventType.EXTENSION_NOTIFIED,
        at=D(2026, 3, 20),
        reason="Archives.",
        extended_to=D(2026, 5, 15),
        actor=officer,
    )
    request.refresh_from_db()
    assert (request.is_extended, request.due_date) == (True, D(2026, 5, 15))


@time_machine.travel(dt.datetime(2026, 3, 10, 12, tzinfo=dt.UTC), tick=False)
def test_fee_paid_restarts_the_uk_clock(open_request, agent):
    request = open_request(regime="uk_gdpr", rights=["access"], received_at=aware(2026, 3, 2))
    request_event_add(request=request, type=EventType.FEE_PAID, at=D(2026, 3, 9), actor=agent)
    request.refresh_from_db()
    assert (request.clock_started_on, request.due_date) == (D(2026, 3, 9), D(2026, 4, 9))


def test_letters_of_a_request_received_before_5_feb_2026_promise_no_pause_and_no_restart(open_request):
    old = open_request(regime="uk_gdpr", rights=["access"], received_at=aware(2026, 1, 12))
    _subject, body = communication_preview(request=old, template="clarification_request", reason="Which account?")
    assert "paused" not in body
    assert "We will still answer by 12 February 2026." in body
    _subject, body = communication_preview(request=old, template="identity_request")
    assert "starts when we receive" not in body
    new = open_request(regime="uk_gdpr", rights=["access"], received_at=aware(2026, 3, 2), email="n@example.com")
    _subject, body = communication_preview(request=new, template="clarification_request", reason="Which account?")
    assert "paused" in body
    _subject, body = communication_preview(request=new, template="identity_request")
    assert "starts when we receive" in body


def test_an_erasure_only_clarification_letter_promises_no_pause(open_request):
    request = open_request(regime="uk_gdpr", rights=["erasure"], received_at=aware(2026, 3, 2))
    _subject, body = communication_preview(request=request, template="clarification_request", reason="Which?")
    assert "paused" not in body
    assert "We will still answer by 2 April 2026." in body


def test_letters_cite_the_governing_regimes_and_each_complaint_route(open_request, officer, verified):
    request = open_request(regime=None, requester_country="US", requester_region="CA", rights=["access"])
    _subject, body = communication_preview(request=request, template="acknowledgement")
    assert "Under CCPA / CPRA and UK GDPR we will answer" in body
    verified(request)
    line = request.lines.get()
    request_line_complete(line=line, outcome=Outcome.REFUSED, reason="No data held about you.", actor=officer)
    _subject, body = communication_preview(request=request, template="partial_or_refusal")
    assert "under UK GDPR, to the Information Commissioner's Office (ICO)" in body
    assert "under CCPA / CPRA, to the California Privacy Protection Agency" in body


# --- API ---------------------------------------------------------------------------------------------


@pytest.fixture
def api(baseline, officer):
    _client, token = api_client_create(name="Desk", actor=officer)
    return Client(HTTP_AUTHORIZATION=f"Bearer {token}")


@time_machine.travel(dt.datetime(2026, 4, 2, 12, tzinfo=dt.UTC), tick=False)
def test_the_api_takes_country_and_state_and_returns_applicable_regimes_and_line_regimes(api):
    body = {
        "requester_email": "sam@example.com",
        "requester_name": "Sam Lee",
        "requester_country": "US",
        "requester_region": "CA",
        "rights": ["restriction", "opt_out"],
        "received_at": CALIFORNIA_1630.isoformat(),
    }
    response = api.post("/api/v1/rights-requests/", json.dumps(body), content_type="application/json")
    assert response.status_code == 201, response.content
    data = response.json()
    assert data["regime"] == "ccpa"
    assert data["applicable_regimes"] == ["ccpa", "uk_gdpr"]
    assert {line["right"]: (line["regimes"], line["due_date"]) for line in data["lines"]} == {
        "restriction": (["uk_gdpr"], "2026-04-30"),
        "opt_out": (["ccpa"], "2026-04-21"),
    }
    assert data["acknowledge_by"] == "2026-04-14"


def test_the_api_answers_a_bad_country_with_a_field_error(api):
    body = {
        "requester_email": "sam@example.com",
        "requester_name": "Sam Lee",
        "requester_country": "XX",
        "requester_region": "CA!",
        "rights": ["access"],
    }
    response = api.post("/api/v1/rights-requests/", json.dumps(body), content_type="application/json")
    assert response.status_code == 400
    assert set(response.json()) == {"requester_country", "requester_region"}
    assert RightsRequest.objects.count() == 0


@time_machine.travel(dt.datetime(2026, 3, 20, 12, tzinfo=dt.UTC), tick=False)
def test_the_api_extends_a_swiss_request_to_the_chosen_date(api):
    body = {
        "requester_email": "lea@example.com",
        "requester_name": "Lea Keller",
        "requester_country": "CH",
        "rights": ["access"],
        "received_at": "2026-03-02T10:00:00+01:00",
    }
    reference = api.post("/api/v1/rights-requests/", json.dumps(body), content_type="application/json").json()[
        "reference"
    ]
    event = {"type": "extension_notified", "at": "2026-03-20", "reason": "Archives.", "extended_to": "2026-05-15"}
    response = api.post(
        f"/api/v1/rights-requests/{reference}/events/", json.dumps(event), content_type="application/json"
    )
    assert response.status_code == 201, response.content
    data = response.json()
    assert data["applicable_regimes"] == ["fadp", "uk_gdpr"]
    assert data["lines"][0]["due_date"] == "2026-05-15"
    assert data["events"][-1]["extended_to"] == "2026-05-15"


# --- admin -------------------------------------------------------------------------------------------


def test_the_admin_intake_takes_country_and_state_without_a_regime(client, agent):
    client.force_login(agent)
    response = client.post(
        reverse("admin:requests_app_rightsrequest_add"),
        {
            "requester_name": "Sam Lee",
            "requester_email": "sam@example.com",
            "account_ref": "",
            "requester_country": "US",
            "requester_region": "CA",
            "regime": "",
            "rights": [Regime.objects.get(code="uk_gdpr").rights.get(slug="restriction").pk],
            "channel": "email",
            "received_at_0": "2026-03-02",
            "received_at_1": "09:30:00",
            "description": "",
        },
    )
    assert response.status_code == 302, response.content.decode()[:3000]
    request = RightsRequest.objects.get()
    assert codes(request) == {"uk_gdpr", "ccpa"}


def test_an_officer_adds_a_regime_from_the_admin_and_an_agent_cannot(client, officer, agent, open_request):
    request = open_request(regime="uk_gdpr", rights=["access"])
    url = reverse("admin:requests_app_rightsrequest_regimes", args=[request.pk])
    quebec = Regime.objects.get(code="quebec")
    client.force_login(agent)
    assert client.post(url, {"action": "add", "regime": quebec.pk, "reason": "x"}).status_code == 403
    client.force_login(officer)
    response = client.post(url, {"action": "add", "regime": quebec.pk, "reason": ""})
    assert response.status_code == 200  # the form again, with the error
    assert codes(request) == {"uk_gdpr"}
    response = client.post(url, {"action": "add", "regime": quebec.pk, "reason": "Lives in Montreal."})
    assert response.status_code == 302
    assert codes(request) == {"uk_gdpr", "quebec"}
    page = client.get(reverse("admin:requests_app_rightsrequest_change", args=[request.pk])).content.decode()
    assert "Quebec Law 25" in page


def test_the_request_list_filters_by_any_applicable_regime(client, officer, open_request):
    californian = open_request(regime=None, requester_country="US", requester_region="CA", rights=["access"])
    londoner = open_request(regime="uk_gdpr", rights=["access"], email="l@example.com")
    client.force_login(officer)
    url = reverse("admin:requests_app_rightsrequest_changelist")
    uk = Regime.objects.get(code="uk_gdpr").pk
    ccpa = Regime.objects.get(code="ccpa").pk
    page = client.get(url, {"applicable_regimes__id__exact": uk}).content.decode()
    assert californian.reference in page and londoner.reference in page
    page = client.get(url, {"applicable_regimes__id__exact": ccpa}).content.decode()
    assert californian.reference in page and londoner.reference not in page


def test_received_on_is_the_earliest_date_among_the_controllers_and_requesters_zones(open_request):
    request = open_request(
        regime=None, requester_country="US", requester_region="CA", rights=["opt_out"], received_at=CALIFORNIA_1630
    )
    assert timezone.localdate(request.received_at) == D(2026, 4, 1)  # London
    assert request.due_date == D(2026, 4, 21)  # 15 business days from 31 Mar, California's date
