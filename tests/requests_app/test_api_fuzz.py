"""The API fuzzed from its own OpenAPI schema (schemathesis, in-process against the WSGI app).

With a valid bearer token: no answer is a server error, every status code and body is the one the schema
documents for that operation. Examples are bounded so the whole run takes well under two minutes.
"""

from __future__ import annotations

import pytest
import schemathesis
from django.core import signals
from django.db import close_old_connections
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from config.wsgi import application
from requests_app.services import api_client_create, rights_request_open

EXAMPLES = 80
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]


@pytest.fixture
def api_schema(db):
    # As Django's test client does: the real WSGI app would close the test's connection after each call.
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    yield schemathesis.openapi.from_wsgi("/api/schema/", application)
    signals.request_started.connect(close_old_connections)
    signals.request_finished.connect(close_old_connections)


@pytest.fixture
def client_token(baseline, officer):
    _, token = api_client_create(name="Fuzzer", actor=officer)
    return token


@pytest.fixture
def existing_reference(baseline, officer, client_token):
    """A request of the fuzzing client, so the detail and event operations also reach their 200/201/400 paths."""
    from requests_app.models import ApiClient

    client = ApiClient.objects.get(name="Fuzzer")
    return rights_request_open(
        requester_name="Fuzz Target",
        requester_email="fuzz.target@example.com",
        regime="uk_gdpr",
        rights=["access", "erasure"],
        actor=None,
        api_client=client,
    ).reference


def test_the_api_answers_every_generated_call_as_its_schema_documents(api_schema, client_token, existing_reference):
    headers = {"Authorization": f"Bearer {client_token}"}
    operations = [result.ok() for result in api_schema.get_all_operations()]
    assert {operation.label for operation in operations} == {
        "POST /api/v1/rights-requests/",
        "GET /api/v1/rights-requests/{reference}/",
        "POST /api/v1/rights-requests/{reference}/events/",
        "POST /api/v1/rights-requests/{reference}/appeals/",
    }
    # The fields of issue 13 are in the bodies the fuzzer generates from (country, state, primary regime,
    # an extension's chosen date).
    bodies = {operation.label: operation.definition.raw["requestBody"] for operation in operations if operation.body}
    create_schema = api_schema.raw_schema["components"]["schemas"]["RightsRequestCreate"]["properties"]
    assert {"requester_country", "requester_region", "regime"} <= set(create_schema)
    assert "extended_to" in api_schema.raw_schema["components"]["schemas"]["EventCreate"]["properties"]
    assert set(bodies) == {
        "POST /api/v1/rights-requests/",
        "POST /api/v1/rights-requests/{reference}/events/",
        "POST /api/v1/rights-requests/{reference}/appeals/",
    }
    appeal_schema = api_schema.raw_schema["components"]["schemas"]["AppealCreate"]["properties"]
    assert {"lines", "received_at", "channel", "statement"} <= set(appeal_schema)
    calls: dict[str, set[int]] = {}

    def fuzzer_for(operation):
        @given(case=operation.as_strategy(), real_reference=st.booleans())
        @settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
        def fuzz(case, real_reference):
            if real_reference and "reference" in (case.path_parameters or {}):
                case.path_parameters["reference"] = existing_reference
            response = case.call_and_validate(headers=headers, checks=CHECKS)
            calls.setdefault(operation.label, set()).add(response.status_code)

        return fuzz

    for operation in operations:
        fuzzer_for(operation)()
    # The run reached the operations' success and refusal paths, not only their 404s.
    assert {201, 400} <= calls["POST /api/v1/rights-requests/"]
    assert {200, 404} <= calls["GET /api/v1/rights-requests/{reference}/"]
    assert 400 in calls["POST /api/v1/rights-requests/{reference}/events/"]
    assert {400, 404} <= calls["POST /api/v1/rights-requests/{reference}/appeals/"]


def test_a_bad_field_without_the_optional_received_date_is_a_400_not_a_server_error(client, client_token):
    """Found by the fuzzer: the cross-field check tripped over an optional field left out."""
    response = client.post(
        "/api/v1/rights-requests/",
        {"requester_email": "not-an-address", "requester_name": "A", "regime": "uk_gdpr", "rights": ["access"]},
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {client_token}",
    )
    assert response.status_code == 400
    assert response.json() == {"requester_email": ["Enter a valid email address."]}
