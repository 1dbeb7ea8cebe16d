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


def test_the_list_action_approves_no_erasure_plan_so_nothing_is_recorded(
    client, planned, officer, django_capture_on_commit_callbacks
):
    """Erasure plans are approved one at a time from their confirmation page (recorded: the test above); the
    list action skips them with a warning, approves nothing and records nothing."""
    plan = FulfilmentPlan.objects.get(request=planned, kind="erasure")
    client.force_login(officer)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("admin:fulfilment_fulfilmentplan_changelist"),
            {"action": "approve_selected", "_selected_action": [plan.pk]},
            follow=True,
        )
    plan.refresh_from_db()
    assert plan.approved_by is None and plan.status == FulfilmentPlan.Status.AWAITING_APPROVAL
    assert b"confirmation page" in response.content
    assert not events(AccessEvent.Action.APPROVED_PLAN).exists()


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
