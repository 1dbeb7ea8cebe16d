"""Issue 12 item 13: names and letter subjects are stored and shown as they read.

Bidirectional overrides are refused with a field error (API and admin); zero-width
and other invisible format characters are removed and text is normalised to NFC.
"""

import json

import pytest
from django.test import Client
from django.urls import reverse

from requests_app.models import RightsRequest
from requests_app.services import api_client_create
from requests_app.validators import clean_single_line
from tests.requests_app.conftest import aware

CREATE = "/api/v1/rights-requests/"
RLO = "\u202e"  # RIGHT-TO-LEFT OVERRIDE
BODY = {
    "requester_email": "ana.silva@example.com",
    "regime": "uk_gdpr",
    "rights": ["access"],
    "received_at": "2025-09-03T09:30:00+01:00",
    "channel": "support_ticket",
}


@pytest.fixture
def api(baseline, officer):
    _client, token = api_client_create(name="Support desk", actor=officer)
    return Client(HTTP_AUTHORIZATION=f"Bearer {token}")


def test_the_api_refuses_a_name_with_a_bidi_override_with_a_field_error(api):
    response = api.post(CREATE, {**BODY, "requester_name": f"Ana {RLO}avlis"}, content_type="application/json")
    assert response.status_code == 400
    errors = json.loads(response.content)
    assert "override characters" in " ".join(errors["requester_name"])
    assert RightsRequest.objects.count() == 0


def test_the_api_stores_a_name_without_zero_width_characters_and_in_nfc(api, client, officer):
    name = "Jose\u0301\u200b Silva\ufeff"  # decomposed é, a zero-width space, a byte order mark
    response = api.post(CREATE, {**BODY, "requester_name": name}, content_type="application/json")
    assert response.status_code == 201
    request = RightsRequest.objects.get()
    assert request.requester_name == "Jos\u00e9 Silva"
    client.force_login(officer)
    page = client.get(reverse("admin:requests_app_rightsrequest_change", args=[request.pk])).content.decode()
    assert "Jos\u00e9 Silva" in page and "\u200b" not in page


def _intake(regime_pk, name):
    return {
        "requester_name": name,
        "requester_email": "ana.silva@example.com",
        "account_ref": "",
        "regime": regime_pk,
        "rights": ["access"],
        "channel": "email",
        "received_at_0": "2025-09-03",
        "received_at_1": "09:30:00",
        "description": "",
    }


def test_the_admin_intake_form_refuses_a_bidi_override_and_keeps_what_was_typed(client, agent):
    from compliance.models import Regime, Right

    regime = Regime.objects.get(code="uk_gdpr")
    data = _intake(regime.pk, f"Ana {RLO}avlis")
    data["rights"] = [Right.objects.get(slug="access").pk]
    client.force_login(agent)
    response = client.post(reverse("admin:requests_app_rightsrequest_add"), data)
    assert response.status_code == 200
    page = response.content.decode()
    assert "override characters" in page
    assert 'value="ana.silva@example.com"' in page
    assert RightsRequest.objects.count() == 0

    data["requester_name"] = "Ana\u200d Silva"
    response = client.post(reverse("admin:requests_app_rightsrequest_add"), data)
    assert response.status_code == 302
    assert RightsRequest.objects.get().requester_name == "Ana Silva"


def test_an_officer_cannot_correct_a_name_into_a_bidi_override(client, officer, open_request):
    request = open_request(received_at=aware(2025, 9, 3))
    client.force_login(officer)
    url = reverse("admin:requests_app_rightsrequest_change", args=[request.pk])
    data = {
        "requester_name": f"Ana {RLO}avlis",
        "requester_email": request.requester_email,
        "account_ref": "",
        "regime": request.regime_id,
        "channel": request.channel,
        "received_at_0": "2025-09-03",
        "received_at_1": "10:00:00",
        "description": "",
        "assignee": "",
        "subject_type": "",
        "lines-TOTAL_FORMS": "0",
        "lines-INITIAL_FORMS": "0",
    }
    response = client.post(url, data)
    assert response.status_code == 200 and "override characters" in response.content.decode()
    request.refresh_from_db()
    assert request.requester_name == "Ana Silva"


def test_the_letter_form_refuses_a_bidi_override_in_the_subject_and_strips_zero_width(client, agent, open_request):
    request = open_request(received_at=aware(2025, 9, 3))
    client.force_login(agent)
    url = reverse("admin:requests_app_rightsrequest_letter", args=[request.pk])
    post = {"template": "acknowledgement", "body": "Dear Ana.", "_send": "1"}
    response = client.post(url, {**post, "subject": f"Your request {RLO}fdp.exe"})
    assert response.status_code == 200 and "override characters" in response.content.decode()
    assert request.communications.count() == 0
    response = client.post(url, {**post, "subject": "Your\u200b request"})
    assert response.status_code == 302
    assert request.communications.get().subject == "Your request"


@pytest.mark.parametrize(
    ("text", "expected"),
    [("Ana\u00ad Silva", "Ana Silva"), ("  Zoë  ", "Zoë"), ("Ana\u200e Silva", "Ana Silva"), ("李 小龍", "李 小龍")],
)
def test_the_normaliser_keeps_visible_text(text, expected):
    assert clean_single_line(text, label="The name") == expected
