"""Intake stores its dates once, computed before the first write, and in a pinned number of queries."""

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.test import Client

from requests_app.models import ReferenceCounter, RightsRequest
from requests_app.services import api_client_create, rights_request_recompute

DATE_FIELDS = [
    "clock_started_on",
    "paused_days",
    "paused_since",
    "is_extended",
    "due_date",
    "acknowledge_by",
    "target_date",
]


def _dates(request: RightsRequest) -> dict:
    request = RightsRequest.objects.get(pk=request.pk)
    return {
        "request": {name: getattr(request, name) for name in DATE_FIELDS},
        "lines": {
            line.right.slug: (line.due_date, sorted(regime.code for regime in line.regimes.all()))
            for line in request.lines.select_related("right").prefetch_related("regimes")
        },
    }


@time_machine.travel(dt.datetime(2026, 4, 2, 12, tzinfo=dt.UTC), tick=False)
@pytest.mark.parametrize(
    "intake",
    [
        {"regime": "uk_gdpr", "rights": ["access", "erasure"]},
        {
            "regime": None,
            "requester_country": "US",
            "requester_region": "ca",
            "rights": ["restriction", "access"],
            "received_at": dt.datetime(2026, 3, 31, 16, 30, tzinfo=ZoneInfo("America/Los_Angeles")),
        },
    ],
)
def test_the_dates_stored_at_intake_are_those_a_recompute_from_the_ledger_gives(open_request, intake):
    request = open_request(**intake)
    stored = _dates(request)
    assert stored["request"]["due_date"] is not None
    assert all(due is not None and regimes for due, regimes in stored["lines"].values())

    rights_request_recompute(request=RightsRequest.objects.get(pk=request.pk))

    assert _dates(request) == stored
    # One history row per line, written at intake with its due date.
    for line in request.lines.all():
        assert [row.due_date for row in line.history.all()] == [line.due_date]


def test_references_are_numbered_one_after_the_other_per_year(open_request):
    first = open_request(email="a@example.com")
    second = open_request(email="b@example.com")
    year = first.received_at.year
    assert (first.reference, second.reference) == (f"DSR-{year}-00001", f"DSR-{year}-00002")
    assert ReferenceCounter.objects.get(year=year).last_number == 2
    assert RightsRequest.objects.get(pk=second.pk).history.latest().reference == second.reference


def test_an_api_intake_runs_a_pinned_number_of_queries(baseline, officer, django_assert_max_num_queries):
    _client, token = api_client_create(name="Support desk", actor=officer)
    api = Client(HTTP_AUTHORIZATION=f"Bearer {token}")
    body = {
        "requester_email": "ana.silva@example.com",
        "requester_name": "Ana Silva",
        "regime": "uk_gdpr",
        "rights": ["access", "erasure"],
        "channel": "web_form",
    }
    with django_assert_max_num_queries(29):
        response = api.post(
            "/api/v1/rights-requests/", body, content_type="application/json", HTTP_IDEMPOTENCY_KEY="k1"
        )
    assert response.status_code == 201
    assert RightsRequest.objects.get(reference=response.json()["reference"]).lines.count() == 2
