"""The request page as an officer reads it: rows found grouped by system (empty tables folded), the manual task
linked from the step that waits on it, and closing the request told apart from leaving the page."""

import pytest
from django.urls import reverse

from compliance.models import ManualTask
from fulfilment.models import FulfilmentPlan, FulfilmentStep, LocatedTable
from fulfilment.services import fulfilment_start, plan_approve

pytestmark = [pytest.mark.django_db(databases=["default", "platform"]), pytest.mark.usefixtures("eager_tasks")]


def _page(client, request):
    response = client.get(reverse("admin:requests_app_rightsrequest_change", args=[request.pk]))
    assert response.status_code == 200
    return response.content.decode()


def test_located_rows_are_grouped_by_system_with_empty_tables_folded(
    client, platform, open_request, officer, django_capture_on_commit_callbacks
):
    request = open_request(platform.subject, ["access"])
    with django_capture_on_commit_callbacks(execute=True):
        fulfilment_start(request=request, actor=officer)
    located = LocatedTable.objects.filter(request=request)
    found = located.filter(rows__gt=0)
    empty = located.filter(rows=0)
    assert found.exists() and empty.exists()
    client.force_login(officer)
    html = _page(client, request)
    section = html[html.index("Where the subject was found") :]
    total = sum(found.values_list("rows", flat=True))
    assert f"<strong>{platform.system.name}</strong>: {total} rows in {found.count()} tables" in section
    folded = section[section.index('class="empty-tables"') :]
    assert f"{empty.count()} table{'s' if empty.count() != 1 else ''} with no rows" in folded
    assert empty.first().table.table_name in folded
    # A table with rows is listed with its count, outside the folded part.
    row = found.first()
    shown = section[: section.index('class="empty-tables"')]
    assert f"<td>{row.table.table_name}</td><td>{row.rows}</td>" in shown


def test_a_step_waiting_on_a_manual_task_links_to_it_and_the_task_names_the_request(
    client, platform, open_request, officer, auditor, django_capture_on_commit_callbacks
):
    request = open_request(platform.subject, ["rectification"], description="My name is Ada King.")
    with django_capture_on_commit_callbacks(execute=True):
        fulfilment_start(request=request, actor=officer)
    with django_capture_on_commit_callbacks(execute=True):
        plan_approve(plan=FulfilmentPlan.objects.get(request=request), actor=officer)
    step = FulfilmentStep.objects.get(request=request, kind="rectify")
    task = ManualTask.objects.get(pk=int(step.external_reference.split()[-1]))
    assert task.title == f"{request.reference}: Rectify in {platform.system.name}"
    task_url = reverse("admin:compliance_manualtask_change", args=[task.pk])
    client.force_login(officer)
    assert f'<a href="{task_url}">manual task {task.pk}</a>' in _page(client, request)
    step_page = client.get(reverse("admin:fulfilment_fulfilmentstep_change", args=[step.pk])).content.decode()
    assert f'<a href="{task_url}">Manual task {task.pk}</a>' in step_page


def test_closing_the_request_is_a_distinct_step_from_leaving_the_page(client, platform, open_request, officer, auditor):
    request = open_request(platform.subject, ["access"])
    client.force_login(officer)
    html = _page(client, request)
    close_url = reverse("admin:requests_app_rightsrequest_close", args=[request.pk])
    assert f'href="{close_url}" class="close-request"' in html and "Close the request…" in html
    confirm = client.get(close_url).content.decode()
    assert "Close the request" in confirm and "Keep it open and go back" in confirm
    client.force_login(auditor)  # view only: Django's own "Close" link leaves the page
    html = _page(client, request)
    assert "Back to the list" in html and ">Close</a>" not in html and close_url not in html
