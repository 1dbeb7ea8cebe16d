"""Plan approval and the staff download of a bundle are access events, recorded through the admin."""

import pytest
from django.urls import reverse

from fulfilment.models import ExportBundle, FulfilmentPlan
from fulfilment.services import fulfilment_start
from security.models import AccessEvent
from tests.audit_helpers import events, the_event

pytestmark = [pytest.mark.django_db(databases=["default", "platform"]), pytest.mark.usefixtures("eager_tasks")]


@pytest.fixture
def planned(platform, open_request, officer, django_capture_on_commit_callbacks):
    request = open_request(platform.subject, ["access", "erasure"])
    with django_capture_on_commit_callbacks(execute=True):
        fulfilment_start(request=request, actor=officer)
    return request


def test_approving_a_plan_with_its_button_is_recorded_and_a_refused_approval_is_not(
    client, planned, officer, auditor, django_capture_on_commit_callbacks
):
    plan = FulfilmentPlan.objects.get(request=planned, kind="erasure")
    approve = reverse("admin:fulfilment_fulfilmentplan_approve", args=[plan.pk])
    client.force_login(auditor)
    assert client.post(approve).status_code == 403
    assert not events(AccessEvent.Action.APPROVED_PLAN).exists()
    client.force_login(officer)
    with django_capture_on_commit_callbacks(execute=True):
        assert client.post(approve).status_code == 302
    the_event(AccessEvent.Action.APPROVED_PLAN, plan, officer)
    # Approving again is refused (not awaiting approval) and records nothing more.
    client.post(approve)
    assert events(AccessEvent.Action.APPROVED_PLAN).count() == 1


def test_approving_plans_with_the_list_action_is_recorded(client, planned, officer, django_capture_on_commit_callbacks):
    plan = FulfilmentPlan.objects.get(request=planned, kind="erasure")
    client.force_login(officer)
    with django_capture_on_commit_callbacks(execute=True):
        client.post(
            reverse("admin:fulfilment_fulfilmentplan_changelist"),
            {"action": "approve_selected", "_selected_action": [plan.pk]},
        )
    plan.refresh_from_db()
    assert plan.approved_by == officer
    the_event(AccessEvent.Action.APPROVED_PLAN, plan, officer)


def test_a_staff_download_of_a_bundle_is_recorded_and_a_refused_one_is_not(client, planned, officer, auditor):
    bundle = ExportBundle.objects.get(request=planned)
    download = reverse("admin:fulfilment_exportbundle_download", args=[bundle.pk])
    client.force_login(auditor)
    assert client.get(download).status_code == 403
    assert not events(AccessEvent.Action.DOWNLOADED_BUNDLE).exists()
    client.force_login(officer)
    response = client.get(download)
    assert response.status_code == 200 and b"".join(response.streaming_content)[:2] == b"PK"
    the_event(AccessEvent.Action.DOWNLOADED_BUNDLE, bundle, officer)
