"""A client that sends its token the wrong way is told the header to send, and its token is never echoed."""

import pytest
from django.test import Client

from requests_app.services import api_client_create

pytestmark = pytest.mark.django_db

URL = "/api/v1/rights-requests/DSR-2026-00001/"
HINT = "Authorization: Bearer <token>"


@pytest.fixture
def token(officer):
    return api_client_create(name="Support desk", actor=officer)[1]


def _refused(header: str | None):
    client = Client(HTTP_AUTHORIZATION=header) if header is not None else Client()
    response = client.get(URL)
    assert response.status_code == 401 and response["Content-Type"] == "application/json"
    assert response["WWW-Authenticate"] == 'Bearer realm="api"'
    return response.content.decode(), response.json()["detail"]


def test_no_header_says_which_header_to_send(token):
    _, detail = _refused(None)
    assert detail.startswith("No API token was sent.") and HINT in detail


@pytest.mark.parametrize("scheme", ["Token", "token", "Basic", "ApiKey"])
def test_a_token_sent_with_another_scheme_names_the_bearer_header_and_is_not_echoed(token, scheme):
    body, detail = _refused(f"{scheme} {token}")
    assert HINT in detail and "not another scheme" in detail
    assert token not in body and token[4:20] not in body


def test_a_bearer_header_without_a_token_names_the_header(token):
    _, detail = _refused("Bearer")
    assert HINT in detail


def test_a_wrong_bearer_token_is_refused_without_echoing_it(token):
    body, detail = _refused(f"Bearer {token}x")
    assert detail == "Invalid or revoked token." and token not in body


def test_the_right_header_still_works(token):
    response = Client(HTTP_AUTHORIZATION=f"Bearer {token}").get(URL)
    assert response.status_code == 404  # authenticated: this client has no such request
