"""The API under attack: bodies nested too deeply or too large, probing for other clients' requests,
and a client calling faster than its rate limit. Every refusal is JSON, never an HTML page or a 500."""

from datetime import UTC, datetime

import pytest
import time_machine
from django.test import Client

from requests_app.models import RightsRequest
from requests_app.services import api_client_create

CREATE = "/api/v1/rights-requests/"
VALID = {
    "requester_email": "ana.silva@example.com",
    "requester_name": "Ana Silva",
    "regime": "uk_gdpr",
    "rights": ["access"],
    "channel": "support_ticket",
}


def _client(name: str, officer) -> Client:
    _, token = api_client_create(name=name, actor=officer)
    return Client(HTTP_AUTHORIZATION=f"Bearer {token}")


@pytest.fixture
def api(baseline, officer) -> Client:
    return _client("Support desk", officer)


@pytest.fixture
def other_api(baseline, officer) -> Client:
    return _client("Web form", officer)


def post(api: Client, data, **extra):
    return api.post(CREATE, data, content_type="application/json", **extra)


# --- bodies nested too deeply or too large ----------------------------------------------------------


@pytest.mark.parametrize("debug", [False, True])
@pytest.mark.django_db
def test_deeply_nested_json_is_a_json_400_with_a_clear_message(api, settings, debug):
    settings.DEBUG = debug
    for body in ["[" * 5000 + "]" * 5000, '{"rights": ' + "[" * 40 + "]" * 40 + "}"]:
        response = post(api, body)
        assert response.status_code == 400
        assert response["Content-Type"] == "application/json"
        assert response.json() == {"detail": "JSON parse error: arrays and objects may nest at most 32 levels deep."}
    assert not RightsRequest.objects.exists()
    assert post(api, VALID).status_code == 201  # a body of ordinary depth still goes through


@pytest.mark.parametrize("debug", [False, True])
@pytest.mark.django_db
def test_a_body_over_the_size_limit_is_a_json_413(api, settings, debug):
    settings.DEBUG = debug
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 2000
    response = post(api, {**VALID, "description": "x" * 3000})
    assert response.status_code == 413
    assert response["Content-Type"] == "application/json"
    assert response.json() == {"detail": "The request body is larger than the 2,000 bytes allowed."}
    assert not RightsRequest.objects.exists()
    assert post(api, {**VALID, "description": "x" * 1000}).status_code == 201


# --- possible duplicates: only the caller's own requests ---------------------------------------------


@pytest.mark.django_db
def test_a_client_cannot_learn_that_another_client_has_an_open_request_for_an_address(api, other_api, officer, client):
    first = post(api, VALID)
    assert first.status_code == 201 and first.json()["possible_duplicate"] is False

    probe = post(other_api, VALID)
    assert probe.status_code == 201
    assert probe.json()["possible_duplicate"] is False
    reference = probe.json()["reference"]
    assert other_api.get(f"{CREATE}{reference}/").json()["possible_duplicate"] is False

    # The caller's own duplicate is still flagged, on creation and on reading.
    own = post(api, VALID).json()
    assert own["possible_duplicate"] is True
    assert api.get(f"{CREATE}{own['reference']}/").json()["possible_duplicate"] is True

    # Staff see every possible duplicate, whichever client sent it.
    flagged = set(RightsRequest.objects.exclude(possible_duplicate_of=None).values_list("reference", flat=True))
    assert flagged == {reference, own["reference"]}
    client.force_login(officer)
    page = client.get("/admin/requests_app/rightsrequest/")
    assert page.status_code == 200
    listed = {obj.reference: obj for obj in page.context["cl"].result_list}
    assert listed[reference].possible_duplicate_of.reference == first.json()["reference"]
    change = client.get(f"/admin/requests_app/rightsrequest/{listed[reference].pk}/change/")
    assert first.json()["reference"] in change.content.decode()


# --- rate limit per client ------------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_client_over_its_rate_limit_gets_429_with_retry_after_and_others_are_not_slowed(api, other_api, settings):
    settings.API_RATE_LIMIT = "3/minute"
    with time_machine.travel(datetime(2026, 5, 4, 10, 0, 15, tzinfo=UTC), tick=False):
        answers = [post(api, {**VALID, "requester_email": f"p{n}@example.com"}) for n in range(3)]
        assert [a.status_code for a in answers] == [201, 201, 201]
        throttled = post(api, {**VALID, "requester_email": "p4@example.com"})
        assert throttled.status_code == 429
        assert throttled["Content-Type"] == "application/json"
        assert throttled["Retry-After"] == "45"
        assert "throttled" in throttled.json()["detail"].lower()
        assert api.get(f"{CREATE}{answers[0].json()['reference']}/").status_code == 429  # every endpoint counts
        assert post(other_api, VALID).status_code == 201  # another client has its own budget
    assert not RightsRequest.objects.filter(requester_email="p4@example.com").exists()
    with time_machine.travel(datetime(2026, 5, 4, 10, 1, 0, tzinfo=UTC), tick=False):
        assert post(api, {**VALID, "requester_email": "p4@example.com"}).status_code == 201


@pytest.mark.django_db
def test_the_rate_limit_is_counted_in_the_shared_redis_cache(api, settings):
    """Another web process (another machine) sees the same count: the counter lives in Redis."""
    import redis
    from django.core.cache import cache

    assert settings.CACHES["default"]["BACKEND"] == "config.cache.SharedRedisCache"
    settings.API_RATE_LIMIT = "2/hour"
    with time_machine.travel(datetime(2026, 5, 4, 10, 0, 0, tzinfo=UTC), tick=False):
        assert post(api, VALID).status_code == 201
        keys = [
            key.decode()
            for key in redis.Redis.from_url(settings.CACHES["default"]["LOCATION"]).keys(f"{cache.key_prefix}:*")
        ]
        assert any("throttle:api_client:" in key for key in keys)
