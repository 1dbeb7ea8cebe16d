"""The demo step fills every screen: about 40 requests across regimes, states and outcomes."""

from io import StringIO

from requests_app.deadlines import DUE_SOON, OVERDUE, URGENT
from requests_app.demo import load_demo_requests
from requests_app.models import ApiClient, Communication, Outcome, RequestLine, RequestStatus, RightsRequest
from requests_app.selectors import request_sla


def test_demo_requests_cover_regimes_states_and_outcomes_and_load_once(officer, agent):
    out = StringIO()
    load_demo_requests(stdout=out)
    requests = list(RightsRequest.objects.select_related("regime"))
    assert 38 <= len(requests) <= 45
    assert {r.regime.code for r in requests} >= {
        "eu_gdpr",
        "uk_gdpr",
        "ccpa",
        "vcdpa",
        "cpa",
        "ctdpa",
        "tdpsa",
        "lgpd",
        "pipeda",
        "quebec",
        "fadp",
    }
    states = {request_sla(r) for r in requests}
    assert {OVERDUE, DUE_SOON, URGENT, "on_track", "paused", "closed"} <= states
    closed_outcomes = {r.outcome for r in requests if r.status == RequestStatus.CLOSED}
    assert closed_outcomes >= {Outcome.FULFILLED, Outcome.PARTIALLY_FULFILLED, Outcome.REFUSED, Outcome.WITHDRAWN}
    assert {r.status for r in requests} >= {
        RequestStatus.RECEIVED,
        RequestStatus.AWAITING_IDENTITY,
        RequestStatus.AWAITING_CLARIFICATION,
        RequestStatus.IN_PROGRESS,
        RequestStatus.CLOSED,
    }
    assert any(r.is_extended for r in requests)
    assert any(r.possible_duplicate_of_id for r in requests)
    assert any(r.closed_on_time is False for r in requests)
    assert RequestLine.objects.exclude(refusal_ground="").exists()
    assert Communication.objects.filter(template="partial_or_refusal").exists()
    assert ApiClient.objects.exists()
    assert "rights requests:" in out.getvalue()

    load_demo_requests(stdout=StringIO())
    assert RightsRequest.objects.count() == len(requests)
