"""The JSON API: bearer tokens, intake, field errors, idempotency, events, schema."""

import threading

import pytest
import time_machine
from django.db import connection
from django.test import Client
from django.urls import reverse

from requests_app.models import ApiClient, RightsRequest
from requests_app.services import api_client_create, api_client_revoke
from tests.requests_app.conftest import aware

CREATE = "/api/v1/rights-requests/"


def detail(reference):
    return f"/api/v1/rights-requests/{reference}/"


def events(reference):
    return f"/api/v1/rights-requests/{reference}/events/"


@pytest.fixture
def token(baseline, officer):
    _client, token = api_client_create(name="Support desk", actor=officer)
    return token


@pytest.fixture
def api(token):
    return Client(HTTP_AUTHORIZATION=f"Bearer {token}")


def post(api, url, data, **headers):
    return api.post(url, data, content_type="application/json", **headers)


VALID = {
    "requester_email": "ana.silva@example.com",
    "requester_name": "Ana Silva",
    "account_ref": "acct-42",
    "regime": "uk_gdpr",
    "rights": ["access", "erasure"],
    "received_at": "2025-09-03T09:30:00+01:00",
    "channel": "support_ticket",
    "description": "Sent from ticket 1234.",
}


# --- authentication ------------------------------------------------------------------------------


def test_no_token_is_401_with_a_bearer_challenge(baseline):
    response = Client().post(CREATE, VALID, content_type="application/json")
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == 'Bearer realm="api"'


def test_a_wrong_token_is_401(baseline):
    response = post(Client(HTTP_AUTHORIZATION="Bearer dsr_wrong"), CREATE, VALID)
    assert response.status_code == 401


def test_a_revoked_token_is_401(api, officer):
    api_client_revoke(client=ApiClient.objects.get(name="Support desk"), actor=officer)
    assert post(api, CREATE, VALID).status_code == 401


def test_only_a_hash_of_the_token_is_stored(token):
    client = ApiClient.objects.get(name="Support desk")
    assert token not in {client.token_hash, client.token_prefix}
    assert token.startswith(client.token_prefix)


# --- intake --------------------------------------------------------------------------------------


def test_post_creates_the_request_and_answers_with_deadlines_and_lines(api):
    response = post(api, CREATE, VALID)
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["reference"].startswith("DSR-")
    assert body["status"] == "received"
    assert body["due_date"] == "2025-10-03"
    assert body["acknowledge_by"] is None
    assert body["target_date"] == "2025-09-30"
    assert [(line["right"], line["status"]) for line in body["lines"]] == [("access", "open"), ("erasure", "open")]
    request = RightsRequest.objects.get(reference=body["reference"])
    assert request.api_client.name == "Support desk"
    assert request.channel == "support_ticket"


def test_ccpa_answers_with_an_acknowledgement_date(api):
    body = post(api, CREATE, {**VALID, "regime": "ccpa", "received_at": "2025-11-03T10:00:00Z"}).json()
    assert body["acknowledge_by"] == "2025-11-18"


def test_received_at_defaults_to_now(api):
    with time_machine.travel(aware(2026, 3, 2, 11), tick=False):
        body = post(api, CREATE, {k: v for k, v in VALID.items() if k != "received_at"}).json()
    assert body["received_at"].startswith("2026-03-02T11:00:00")


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        ({"regime": "mars"}, "regime", '"mars" is not a valid choice.'),
        ({"rights": ["teleport"]}, "rights", '"teleport" is not a valid choice.'),
        (
            {"regime": "pipeda", "rights": ["limit_sensitive"]},
            "rights",
            "Canada PIPEDA and UK GDPR do not grant: limit_sensitive.",
        ),
        ({"requester_country": "XX"}, "requester_country", None),
        ({"received_at": "2099-01-01T00:00:00Z"}, "received_at", "The received date cannot be in the future."),
        ({"received_at": "yesterday"}, "received_at", None),
        ({"requester_email": "ana@"}, "requester_email", "Enter a valid email address."),
        ({"requester_name": ""}, "requester_name", "This field may not be blank."),
        ({"rights": []}, "rights", None),
        ({"rights": ["access", "access"]}, "rights", "Each right can be asked for once."),
        ({"rights": "access"}, "rights", None),
        ({"channel": "pigeon"}, "channel", '"pigeon" is not a valid choice.'),
        ({"account_ref": "x" * 101}, "account_ref", None),
        ({"received_at": "1999-12-31T00:00:00Z"}, "received_at", "The received date cannot be before 2000."),
        ({"received_at": "0001-01-01T00:00:00Z"}, "received_at", None),
        ({"description": "nul\u0000byte"}, "description", None),
    ],
)
def test_bad_input_is_400_with_field_errors_and_creates_nothing(api, change, field, message):
    response = post(api, CREATE, {**VALID, **change})
    assert response.status_code == 400
    errors = response.json()
    assert list(errors) == [field]
    flat = str(errors[field])
    if message:
        assert message in flat
    assert RightsRequest.objects.count() == 0


def test_every_bad_field_is_reported_at_once(api):
    response = post(
        api,
        CREATE,
        {**VALID, "regime": "pipeda", "rights": ["limit_sensitive"], "requester_email": "ana@", "channel": "pigeon"},
    )
    assert response.status_code == 400
    assert response.json() == {
        "requester_email": ["Enter a valid email address."],
        "channel": ['"pigeon" is not a valid choice.'],
        "rights": ["Canada PIPEDA and UK GDPR do not grant: limit_sensitive."],
    }


@pytest.mark.parametrize("missing", ["requester_email", "requester_name", "rights"])
def test_missing_required_fields_are_400(api, missing):
    response = post(api, CREATE, {k: v for k, v in VALID.items() if k != missing})
    assert response.status_code == 400
    assert response.json() == {missing: ["This field is required."]}


def test_malformed_json_is_400_and_form_data_is_415(api):
    assert api.post(CREATE, "{not json", content_type="application/json").status_code == 400
    assert post(api, CREATE, [VALID]).status_code == 400
    assert post(api, CREATE, "just a string").status_code == 400
    assert api.post(CREATE, {"regime": "uk_gdpr"}).status_code == 415


# --- idempotency ---------------------------------------------------------------------------------


def test_replaying_with_the_same_key_returns_the_first_result_and_creates_nothing(api):
    first = post(api, CREATE, VALID, HTTP_IDEMPOTENCY_KEY="ticket-1234")
    again = post(api, CREATE, VALID, HTTP_IDEMPOTENCY_KEY="ticket-1234")
    assert first.status_code == again.status_code == 201
    assert again["Idempotent-Replayed"] == "true"
    assert first.json() == again.json()
    assert RightsRequest.objects.count() == 1


def test_the_same_key_with_another_body_is_409(api):
    post(api, CREATE, VALID, HTTP_IDEMPOTENCY_KEY="ticket-1234")
    response = post(api, CREATE, {**VALID, "rights": ["access"]}, HTTP_IDEMPOTENCY_KEY="ticket-1234")
    assert response.status_code == 409
    assert RightsRequest.objects.count() == 1


def test_a_refused_post_does_not_burn_the_key(api):
    assert post(api, CREATE, {**VALID, "regime": "mars"}, HTTP_IDEMPOTENCY_KEY="k1").status_code == 400
    assert post(api, CREATE, VALID, HTTP_IDEMPOTENCY_KEY="k1").status_code == 201
    assert RightsRequest.objects.count() == 1


def test_an_oversized_idempotency_key_is_400(api):
    response = post(api, CREATE, VALID, HTTP_IDEMPOTENCY_KEY="k" * 256)
    assert response.status_code == 400
    assert "Idempotency-Key" in response.json()


def test_without_a_key_each_post_creates_a_request(api):
    post(api, CREATE, VALID)
    second = post(api, CREATE, VALID).json()
    assert RightsRequest.objects.count() == 2
    assert second["possible_duplicate"] is True


@pytest.mark.django_db(transaction=True)
def test_concurrent_retries_with_one_key_create_one_request(token):
    from compliance.services import policy_baseline_load

    policy_baseline_load()
    results = []
    barrier = threading.Barrier(4)

    def call():
        try:
            barrier.wait()
            client = Client(HTTP_AUTHORIZATION=f"Bearer {token}")
            results.append(post(client, CREATE, VALID, HTTP_IDEMPOTENCY_KEY="race").json()["reference"])
        finally:
            connection.close()

    threads = [threading.Thread(target=call) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(results) == 4 and len(set(results)) == 1
    assert RightsRequest.objects.count() == 1


# --- read and events -----------------------------------------------------------------------------


def test_get_returns_the_request_with_its_events(api):
    reference = post(api, CREATE, VALID).json()["reference"]
    body = api.get(detail(reference)).json()
    assert body["reference"] == reference
    assert [event["type"] for event in body["events"]] == ["received"]


def test_another_clients_request_is_404(api, officer):
    reference = post(api, CREATE, VALID).json()["reference"]
    _other, other_token = api_client_create(name="Web form", actor=officer)
    other = Client(HTTP_AUTHORIZATION=f"Bearer {other_token}")
    assert other.get(detail(reference)).status_code == 404
    assert post(other, events(reference), {"type": "identity_requested"}).status_code == 404
    assert api.get(detail("DSR-1999-00001")).status_code == 404
    assert api.get(detail("DSR%00x")).status_code == 404
    assert api.get(detail("anything-else")).status_code == 404


def test_a_404_says_so_in_the_apis_words_not_the_models_class_name(api, officer):
    reference = post(api, CREATE, VALID).json()["reference"]
    _other, other_token = api_client_create(name="Web form", actor=officer)
    other = Client(HTTP_AUTHORIZATION=f"Bearer {other_token}")
    expected = {"detail": "No rights request with this reference was made by this API client."}
    for response in (
        other.get(detail(reference)),
        post(other, events(reference), {"type": "identity_requested"}),
        api.get(detail("anything-else")),
    ):
        assert (response.status_code, response.json()) == (404, expected)
        assert "RightsRequest" not in response.content.decode()


def test_an_extension_event_recomputes_the_due_date(api):
    reference = post(api, CREATE, VALID).json()["reference"]
    response = post(api, events(reference), {"type": "extension_notified", "at": "2025-09-20", "reason": "complex"})
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["due_date"] == "2025-12-03"
    assert body["is_extended"] is True
    assert [event["type"] for event in body["events"]] == ["received", "extension_notified"]


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"type": "extension_notified", "at": "2025-09-20"}, "reason"),
        ({"type": "extension_notified", "at": "2025-10-06", "reason": "late"}, "at"),
        ({"type": "clarification_received", "at": "2025-09-20"}, "type"),
        ({"type": "closed", "at": "2025-09-20"}, "type"),
        ({"type": "identity_requested", "at": "2099-01-01"}, "at"),
        ({"type": "identity_requested", "at": "2025-09-01"}, "at"),
        ({"type": "identity_requested", "at": "soon"}, "at"),
        ({"type": "identity_requested", "at": 20250920}, "at"),
        ({"type": "identity_requested", "at": "0001-01-01T00:00:00+14:00"}, "at"),
        ({"type": "identity_requested", "at": "2025-13-45"}, "at"),
    ],
)
def test_bad_events_are_400_with_field_errors(api, payload, field):
    reference = post(api, CREATE, VALID).json()["reference"]
    response = post(api, events(reference), payload)
    assert response.status_code == 400
    assert field in response.json()
    assert RightsRequest.objects.get(reference=reference).events.count() == 1


def test_an_extension_under_a_regime_without_one_is_400(api):
    reference = post(api, CREATE, {**VALID, "regime": "quebec", "rights": ["access"]}).json()["reference"]
    response = post(api, events(reference), {"type": "extension_notified", "at": "2025-09-20", "reason": "busy"})
    assert response.status_code == 400
    assert response.json() == {"type": ["Quebec Law 25 allows no extension."]}


def test_event_posts_are_idempotent_with_a_key(api):
    reference = post(api, CREATE, VALID).json()["reference"]
    payload = {"type": "identity_requested", "at": "2025-09-04T10:00:00Z"}
    first = post(api, events(reference), payload, HTTP_IDEMPOTENCY_KEY="evt-1")
    again = post(api, events(reference), payload, HTTP_IDEMPOTENCY_KEY="evt-1")
    assert first.status_code == again.status_code == 201
    assert RightsRequest.objects.get(reference=reference).events.count() == 2


# --- schema --------------------------------------------------------------------------------------


def test_the_openapi_schema_documents_every_endpoint_and_its_4xx(baseline):
    response = Client().get(reverse("api-schema"), HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert response.status_code == 200
    import json

    import yaml

    text = response.content.decode()
    schema = json.loads(text) if text.lstrip().startswith("{") else yaml.safe_load(text)
    paths = schema["paths"]
    create = paths["/api/v1/rights-requests/"]["post"]
    assert set(create["responses"]) == {"201", "400", "401", "409", "413", "415", "429"}
    assert set(paths["/api/v1/rights-requests/{reference}/"]["get"]["responses"]) == {"200", "401", "404", "429"}
    assert set(paths["/api/v1/rights-requests/{reference}/events/"]["post"]["responses"]) == {
        "201",
        "400",
        "401",
        "404",
        "409",
        "413",
        "415",
        "429",
    }
    assert any(p["name"] == "Idempotency-Key" for p in create["parameters"])
    assert schema["components"]["securitySchemes"]["bearerAuth"]["scheme"] == "bearer"
    regime_enum = schema["components"]["schemas"]["RegimeEnum"]["enum"]
    assert set(regime_enum) == {
        "eu_gdpr",
        "uk_gdpr",
        "ccpa",
        "vcdpa",
        "cpa",
        "ctdpa",
        "tdpsa",
        "ucpa",
        "ocpa",
        "mcdpa",
        "icdpa",
        "dpdpa",
        "nhpa",
        "njdpa",
        "ndpa",
        "tipa",
        "mcdpa_mn",
        "modpa",
        "incdpa",
        "kcdpa",
        "ridtppa",
        "lgpd",
        "pipeda",
        "quebec",
        "fadp",
    }
    # The intake fields and the answer's regimes (issue 13).
    create_body = schema["components"]["schemas"]["RightsRequestCreate"]["properties"]
    assert {"requester_country", "requester_region", "regime"} <= set(create_body)
    answer = schema["components"]["schemas"]["RightsRequest"]["properties"]
    assert "applicable_regimes" in answer
    assert "regimes" in schema["components"]["schemas"]["RequestLine"]["properties"]
    assert "extended_to" in schema["components"]["schemas"]["EventCreate"]["properties"]


def test_a_regime_added_in_the_admin_is_accepted_and_listed_without_a_code_change(api, baseline):
    from compliance.models import Regime, RegimeRight

    uk = Regime.objects.get(code="uk_gdpr")
    jersey = Regime.objects.get(pk=uk.pk)
    jersey.pk = None
    jersey.code, jersey.name, jersey.jurisdiction = "jersey_dpl", "Jersey DPL 2018", "Jersey"
    jersey.save()
    for granted in RegimeRight.objects.filter(regime=uk):
        granted.pk, granted.regime = None, jersey
        granted.save()

    response = post(api, CREATE, {**VALID, "regime": "jersey_dpl"})
    assert response.status_code == 201, response.json()
    assert RightsRequest.objects.get(reference=response.json()["reference"]).regime == jersey
    schema = Client().get(reverse("api-schema"), HTTP_ACCEPT="application/vnd.oai.openapi+json").content.decode()
    assert "jersey_dpl" in schema

    Regime.objects.filter(pk=jersey.pk).update(is_active=False)
    response = post(api, CREATE, {**VALID, "regime": "jersey_dpl"})
    assert response.status_code == 400
    assert response.json()["regime"] == ['"jersey_dpl" is not a valid choice.']


def test_the_schema_documents_each_404_with_its_error_body(client, db):
    """The 404 of the request endpoints is documented as the API's error body, not as a bare message (a
    constant of the same name once shadowed the schema's response object)."""
    schema = client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()
    not_found = [
        operation["responses"]["404"]
        for path, operations in schema["paths"].items()
        if "{reference}" in path
        for operation in operations.values()
        if isinstance(operation, dict) and "404" in operation.get("responses", {})
    ]
    assert not_found, "no request endpoint documents its 404"
    for response in not_found:
        assert response["description"] == "No request with this reference for this client."
        assert "application/json" in response["content"]
