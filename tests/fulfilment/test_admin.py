"""The admin: start, approve, waive, download and link buttons by role; pages in a fixed number of queries."""

import io
import zipfile

import pytest
from django.core import mail
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from fulfilment.models import DownloadAttempt, ExportBundle, FulfilmentPlan, FulfilmentStep
from fulfilment.services import fulfilment_start

pytestmark = [pytest.mark.django_db(databases=["default", "platform"]), pytest.mark.usefixtures("eager_tasks")]


def _change(obj) -> str:
    return reverse(f"admin:{obj._meta.app_label}_{obj._meta.model_name}_change", args=[obj.pk])


def test_an_officer_starts_fulfilment_from_the_request_page_and_sees_the_locate_counts(
    client, platform, open_request, officer, django_capture_on_commit_callbacks
):
    request = open_request(platform.subject, ["erasure"])
    client.force_login(officer)
    page = client.get(_change(request))
    assert b"Start fulfilment" in page.content
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("admin:requests_app_rightsrequest_fulfilment_start", args=[request.pk]))
    assert response.status_code == 302
    page = client.get(_change(request))
    assert b"Start fulfilment" not in page.content
    assert b"Where the subject was found" in page.content
    assert b"api_requests" in page.content and b"Awaiting approval" in page.content


def test_refusals_show_as_messages_and_change_nothing(
    client, platform, open_request, officer, django_capture_on_commit_callbacks
):
    request = open_request(platform.subject, ["erasure"], verified=False)
    client.force_login(officer)
    assert b"Start fulfilment" not in client.get(_change(request)).content
    response = client.post(reverse("admin:requests_app_rightsrequest_fulfilment_start", args=[request.pk]), follow=True)
    assert b"identity is not verified" in response.content
    assert not FulfilmentStep.objects.filter(request=request).exists()


def test_support_agents_see_no_fulfilment_and_cannot_start_it(client, platform, open_request, agent):
    request = open_request(platform.subject, ["erasure"])
    client.force_login(agent)
    page = client.get(_change(request))
    assert page.status_code == 200
    assert b"Start fulfilment" not in page.content and b"<h2>Fulfilment</h2>" not in page.content
    response = client.post(reverse("admin:requests_app_rightsrequest_fulfilment_start", args=[request.pk]))
    assert response.status_code == 403
    assert not FulfilmentStep.objects.filter(request=request).exists()
    assert client.get(reverse("admin:fulfilment_fulfilmentplan_changelist")).status_code == 403


@pytest.fixture
def planned(platform, open_request, officer, django_capture_on_commit_callbacks):
    request = open_request(platform.subject, ["access", "erasure"])
    with django_capture_on_commit_callbacks(execute=True):
        fulfilment_start(request=request, actor=officer)
    return request


def test_an_officer_approves_the_plan_with_its_button_and_an_auditor_cannot(
    client, planned, officer, auditor, django_capture_on_commit_callbacks
):
    plan = FulfilmentPlan.objects.get(request=planned, kind="erasure")
    approve = reverse("admin:fulfilment_fulfilmentplan_approve", args=[plan.pk])
    client.force_login(auditor)
    page = client.get(_change(plan))
    assert page.status_code == 200 and b"Approve this plan" not in page.content
    assert b"invoices" in page.content and b"VAT Notice 700/21" in page.content
    assert client.post(approve).status_code == 403
    client.force_login(officer)
    assert b"Approve this plan" in client.get(_change(plan)).content
    with django_capture_on_commit_callbacks(execute=True):
        client.post(approve)
    plan.refresh_from_db()
    assert plan.status == "completed" and plan.approved_by == officer
    assert b"Approve this plan" not in client.get(_change(plan)).content


def test_approving_an_erasure_plan_goes_through_a_summary_of_what_it_deletes_masks_and_keeps(
    client, planned, officer, agent, auditor, django_capture_on_commit_callbacks
):
    from django.utils.html import escape

    plan = FulfilmentPlan.objects.get(request=planned, kind="erasure")
    confirm = reverse("admin:fulfilment_fulfilmentplan_approve", args=[plan.pk])
    for other in (agent, auditor):
        client.force_login(other)
        assert client.get(confirm).status_code == 403
        assert client.post(confirm).status_code == 403
    plan.refresh_from_db()
    assert plan.status == "awaiting_approval"

    client.force_login(officer)
    assert confirm in client.get(_change(plan)).content.decode()  # the plan page links to the summary
    page = client.get(confirm)
    html = page.content.decode()
    assert page.status_code == 200
    deleted = sum(e["rows"] for e in plan.tables if e["action"] == "delete")
    masked = sum(e["rows"] for e in plan.tables if e["action"] == "mask")
    kept = sum(e["rows"] for e in plan.tables if e["action"] == "keep")
    assert deleted and masked and kept
    row = f"<td>{deleted}</td><td>{masked}</td><td>{kept}</td>"
    assert row in html  # one system here: its row is the plan's totals
    assert "Studio platform" in html and "invoices" in html and escape("VAT Notice 700/21") in html
    assert "Approve and start the erasure" in html and "cannot be brought back" in html
    plan.refresh_from_db()
    assert plan.status == "awaiting_approval"  # reading the summary approves nothing

    # The bulk action does not skip the summary for an erasure plan.
    response = client.post(
        reverse("admin:fulfilment_fulfilmentplan_changelist"),
        {"action": "approve_selected", "_selected_action": [plan.pk]},
        follow=True,
    )
    assert "approve an erasure plan from its confirmation page" in response.content.decode()
    plan.refresh_from_db()
    assert plan.status == "awaiting_approval"

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(confirm, {"approve": "Approve and start the erasure"}, follow=True)
    assert "Plan approved" in response.content.decode()
    plan.refresh_from_db()
    assert plan.status == "completed" and plan.approved_by == officer
    assert "there is nothing to approve" in client.get(confirm).content.decode()


def test_a_failed_step_can_be_waived_with_a_reason_from_its_page(
    client, planned, officer, django_capture_on_commit_callbacks
):
    step = FulfilmentStep.objects.filter(request=planned, kind="export").first()
    FulfilmentStep.objects.filter(pk=step.pk).update(status="failed", error="studio-platform: unreachable")
    client.force_login(officer)
    page = client.get(_change(step))
    assert b"Retry" in page.content and b"Waive with a reason" in page.content
    waive = reverse("admin:fulfilment_fulfilmentstep_waive", args=[step.pk])
    response = client.post(waive, {"reason": ""})
    assert response.status_code == 200 and b"This field is required" in response.content
    with django_capture_on_commit_callbacks(execute=True):
        client.post(waive, {"reason": "The table is being rebuilt; sent by post instead."})
    step.refresh_from_db()
    assert step.status == "waived" and step.waived_by == officer


def test_an_officer_downloads_the_bundle_from_the_admin_and_it_is_recorded(client, planned, officer, auditor):
    bundle = ExportBundle.objects.get(request=planned)
    download = reverse("admin:fulfilment_exportbundle_download", args=[bundle.pk])
    client.force_login(auditor)
    assert b"Download (recorded)" not in client.get(_change(bundle)).content
    assert client.get(download).status_code == 403
    client.force_login(officer)
    page = client.get(_change(bundle))
    assert b"Download (recorded)" in page.content and b"studio-platform/api_requests.jsonl" in page.content
    response = client.get(download)
    assert zipfile.ZipFile(io.BytesIO(b"".join(response.streaming_content))).testzip() is None
    assert DownloadAttempt.objects.get(bundle=bundle, outcome="staff_download").user == officer


def test_a_new_link_is_emailed_to_the_requester_never_shown_to_staff(
    client, planned, officer, django_capture_on_commit_callbacks
):
    bundle = ExportBundle.objects.get(request=planned)
    client.force_login(officer)
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("admin:fulfilment_exportbundle_new_link", args=[bundle.pk]),
            {"method": "code", "max_downloads": 2, "days": 3},
            follow=True,
        )
    link = bundle.links.order_by("-created_at").first()
    assert link.method == "code" and link.max_downloads == 2
    assert mail.outbox[-1].to == [planned.requester_email]
    assert b"/data-export/" not in response.content


def test_the_letter_preview_lists_what_was_kept_and_the_download_link(
    client, planned, officer, django_capture_on_commit_callbacks
):
    plan = FulfilmentPlan.objects.get(request=planned, kind="erasure")
    client.force_login(officer)
    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("admin:fulfilment_fulfilmentplan_approve", args=[plan.pk]))
    response = client.get(
        reverse("admin:requests_app_rightsrequest_letter", args=[planned.pk]),
        {"template": "partial_or_refusal", "reason": ""},
    )
    assert response.status_code == 200
    assert b"VAT Notice 700/21" in response.content


def test_the_dashboard_shows_what_waits_on_staff(client, planned, officer):
    client.force_login(officer)
    page = client.get(reverse("admin:index"))
    assert b"Plans awaiting approval" in page.content


@pytest.mark.parametrize(
    "changelist",
    [
        "fulfilmentplan",
        "fulfilmentstep",
        "exportbundle",
        "downloadlink",
        "recipientnotice",
        "erasureledgerentry",
    ],
)
def test_changelists_run_a_fixed_number_of_queries(
    client, platform, vendors, open_request, officer, changelist, django_capture_on_commit_callbacks
):
    from fulfilment.services import plan_approve

    client.force_login(officer)
    url = reverse(f"admin:fulfilment_{changelist}_changelist")
    counts = []
    for subject in (platform.subject, platform.other):
        request = open_request(subject, ["access", "erasure"])
        with django_capture_on_commit_callbacks(execute=True):
            fulfilment_start(request=request, actor=officer)
        with django_capture_on_commit_callbacks(execute=True):
            plan_approve(plan=FulfilmentPlan.objects.get(request=request, kind="erasure"), actor=officer)
        with CaptureQueriesContext(connection) as queries:
            assert client.get(url).status_code == 200
        counts.append(len(queries))
    assert counts[0] == counts[1]
