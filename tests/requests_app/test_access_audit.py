"""Opening a rights request's page and exporting the request log are access events."""

import pytest
from django.urls import reverse

from security.models import AccessEvent
from tests.audit_helpers import events, the_event

pytestmark = pytest.mark.django_db
VIEWED = AccessEvent.Action.VIEWED_PERSONAL_FIELDS


@pytest.mark.parametrize("role", ["agent", "officer", "auditor"])
def test_opening_a_requests_page_records_that_its_personal_fields_were_shown(client, open_request, role, request):
    rights_request = open_request()
    user = request.getfixturevalue(role)
    client.force_login(user)
    assert client.get(reverse("admin:requests_app_rightsrequest_changelist")).status_code == 200
    assert not events(VIEWED).exists()  # the list is not the page with the personal fields
    page = client.get(reverse("admin:requests_app_rightsrequest_change", args=[rights_request.pk]))
    assert page.status_code == 200 and b"ana.silva@example.com" in page.content
    event = the_event(VIEWED, rights_request, user)
    assert "ana" not in event.detail and "Silva" not in str(event)


def test_a_request_page_refused_or_missing_records_nothing(client, open_request, baseline):
    from django.contrib.auth import get_user_model

    rights_request = open_request()
    stranger = get_user_model().objects.create_user(username="stranger", password="x", is_staff=True)
    client.force_login(stranger)
    assert client.get(reverse("admin:requests_app_rightsrequest_change", args=[rights_request.pk])).status_code == 403
    assert not events(VIEWED).exists()


def test_exporting_the_request_log_is_recorded_from_the_list_and_from_selected_rows(client, open_request, officer):
    first = open_request()
    open_request(email="bo.lee@example.com", requester_name="Bo Lee")
    client.force_login(officer)
    response = client.get(reverse("admin:requests_app_rightsrequest_export_log"))
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    event = events(AccessEvent.Action.EXPORTED_LOG).get()
    assert (event.actor, event.detail, event.ip_address) == (officer, "2 rights requests (filtered list)", "127.0.0.1")
    response = client.post(
        reverse("admin:requests_app_rightsrequest_changelist"),
        {"action": "export_selected_log", "_selected_action": [first.pk]},
    )
    assert response["Content-Type"].startswith("text/csv")
    details = sorted(events(AccessEvent.Action.EXPORTED_LOG).values_list("detail", flat=True))
    assert details == ["1 rights requests (selected)", "2 rights requests (filtered list)"]
