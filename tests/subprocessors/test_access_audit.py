"""Exporting the transfer report (CSV) is an access event, from its page and from the list action."""

import pytest
from django.urls import reverse

from security.models import AccessEvent
from tests.audit_helpers import events

pytestmark = pytest.mark.django_db


def test_exporting_the_transfer_report_is_recorded_and_viewing_it_is_not(client, auditor, active):
    client.force_login(auditor)
    url = reverse("admin:subprocessors_subprocessor_transfer_report")
    assert client.get(url).status_code == 200
    assert not events(AccessEvent.Action.EXPORTED_RECORDS).exists()
    response = client.get(url + "?format=csv")
    assert response["Content-Type"].startswith("text/csv")
    response = client.post(
        reverse("admin:subprocessors_subprocessor_changelist"),
        {"action": "export_transfer_report", "_selected_action": [active.pk]},
    )
    assert response["Content-Type"].startswith("text/csv")
    exported = events(AccessEvent.Action.EXPORTED_RECORDS)
    assert exported.count() == 2
    assert {(e.actor, e.detail, e.ip_address) for e in exported} == {(auditor, "transfer report", "127.0.0.1")}
