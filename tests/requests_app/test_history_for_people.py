"""A request's History page reads as the rest of the admin: choices by their labels, dates in the one date
format, "system" for a change no person made and "-" for no reason; never codes, ISO stamps or "None"."""

import html
import re

import time_machine
from django.urls import reverse

from requests_app.models import RightsRequest
from requests_app.services import rights_request_identity_record
from tests.requests_app.conftest import aware


def _history_table(page: str) -> str:
    table = page.split('id="change-history"', 1)[1].split("</table>", 1)[0]
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", table)).split())


def test_the_history_shows_labels_and_dates_for_people_not_codes_iso_stamps_or_none(client, officer, open_request):
    with time_machine.travel(aware(2025, 9, 3, 11), tick=False):
        request = open_request(received_at=aware(2025, 9, 3))
        rights_request_identity_record(request=request, method="email_match", outcome="verified", actor=officer)
        RightsRequest.objects.filter(pk=request.pk).first().save()  # a save no person made (as a worker's)
    client.force_login(officer)
    response = client.get(reverse("admin:requests_app_rightsrequest_history", args=[request.pk]))
    assert response.status_code == 200
    text = _history_table(response.content.decode())
    method = dict(RightsRequest._meta.get_field("identity_method").flatchoices)["email_match"]
    outcome = dict(RightsRequest._meta.get_field("identity_outcome").flatchoices)["verified"]
    assert f"Identity method: - → {method}" in text, text
    assert f"→ {outcome}" in text and "3 September 2025" in text
    assert "email_match" not in text and "2025-09-03" not in text
    assert "None" not in text
    assert "system" in text
