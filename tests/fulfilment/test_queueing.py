"""A step is queued once while its job is outstanding: a plan sends at most one job per step (issue 11).

Before, every finished step queued the next step of every system again (and every unfinished export or
change step): one demo erasure over 3 systems put about 950 jobs in the outbox.
"""

from collections import Counter

import pytest

from compliance.models import DataCategory, MappedColumn, MappedTable, SystemOfRecord
from fulfilment.models import ExportBundle, FulfilmentPlan, FulfilmentStep, LocatedTable
from fulfilment.services import fulfilment_start, locate_step_run, plan_approve
from fulfilment.services.plans import bundle_progress, plan_continue
from jobs.models import PendingJob
from jobs.services import job_send
from tests.support.platform import platform_execute

pytestmark = [pytest.mark.django_db(databases=["default", "platform"]), pytest.mark.usefixtures("eager_tasks")]


@pytest.fixture
def helpdesk(platform):
    """A second SQL system (the support desk's own copy of the tickets), so plans span several systems."""
    system = SystemOfRecord.objects.create(
        name="Helpdesk", slug="helpdesk", owner="Support", kind="sql", database_alias="platform"
    )
    table = MappedTable.objects.create(
        system=system, table_name="support_tickets", subject_column="requester_email", subject_key="email"
    )
    MappedColumn.objects.create(
        table=table, name="requester_email", data_category=DataCategory.objects.get(slug="support"), treatment="hash"
    )
    return system


@pytest.fixture
def back_office(platform):
    system = SystemOfRecord.objects.create(
        name="Back office", slug="backoffice", owner="Compliance", kind="sql", database_alias="default"
    )
    table = MappedTable.objects.create(
        system=system, table_name="requests_app_rightsrequest", subject_column="requester_email", subject_key="email"
    )
    MappedColumn.objects.create(
        table=table,
        name="requester_email",
        data_category=DataCategory.objects.get(slug="account-identity"),
        treatment="hash",
    )
    return system


def _ticket_at_the_helpdesk(email: str) -> None:
    platform_execute(
        "INSERT INTO support_tickets (requester_email, subject, status, created_at) "
        "VALUES (%s, 'Billing question', 'closed', now())",
        [email],
    )


def _jobs(task: str) -> Counter:
    return Counter(tuple(job.args) for job in PendingJob.objects.filter(task_name=f"fulfilment.tasks.{task}"))


def test_a_plan_over_several_systems_sends_one_job_per_step(
    platform, helpdesk, back_office, open_request, officer, django_capture_on_commit_callbacks
):
    _ticket_at_the_helpdesk(platform.subject.email)
    request = open_request(platform.subject, ["access", "erasure"])
    with django_capture_on_commit_callbacks(execute=True):
        fulfilment_start(request=request, actor=officer)
    erasure = FulfilmentPlan.objects.get(request=request, kind="erasure")
    with django_capture_on_commit_callbacks(execute=True):
        plan_approve(plan=erasure, actor=officer)

    erasure.refresh_from_db()
    assert erasure.status == "completed"
    assert FulfilmentPlan.objects.get(request=request, kind="export").status == "completed"
    erase_steps = list(FulfilmentStep.objects.filter(request=request, kind="erase"))
    systems = {step.system_id for step in erase_steps}
    assert len(systems) == 3 and len(erase_steps) >= 10
    assert all(step.status == "done" and step.attempts == 1 for step in erase_steps)

    changes = _jobs("change_step_task")
    assert set(changes) == {(step.pk,) for step in erase_steps}
    assert max(changes.values()) == 1  # one job per step: 11 jobs, not hundreds
    locates = _jobs("locate_step_task")
    assert len(locates) == 3 and max(locates.values()) == 1
    bundle = ExportBundle.objects.get(request=request)
    exports = _jobs("export_system_task")
    export_systems = set(bundle.steps.values_list("system_id", flat=True))
    assert set(exports) == {(bundle.pk, system_id) for system_id in export_systems}
    assert max(exports.values()) == 1
    assert _jobs("bundle_assemble_task") == Counter({(bundle.pk,): 1})


def test_a_step_whose_job_is_outstanding_is_not_queued_again(
    platform, helpdesk, open_request, officer, django_capture_on_commit_callbacks
):
    _ticket_at_the_helpdesk(platform.subject.email)
    request = open_request(platform.subject, ["erasure"])
    with django_capture_on_commit_callbacks(execute=True):
        fulfilment_start(request=request, actor=officer)
    plan = FulfilmentPlan.objects.get(request=request, kind="erasure")
    # Approved, but its jobs are not run yet (as when they wait in the broker's queue).
    plan_approve(plan=plan, actor=officer)
    with django_capture_on_commit_callbacks(execute=False):
        plan_continue(plan_id=plan.pk)
        plan_continue(plan_id=plan.pk)
    first = FulfilmentStep.objects.filter(plan=plan).order_by("system_id", "position").first()
    queued = _jobs("change_step_task")
    # One job per system (its chain's first table), each once, however often the plan is continued.
    assert len(queued) == 2 and set(queued.values()) == {1}
    assert (first.pk,) in queued
    assert FulfilmentStep.objects.filter(plan=plan, queued_at__isnull=False).count() == 2


def test_an_export_system_is_queued_once_while_its_job_is_outstanding(
    platform, open_request, officer, django_capture_on_commit_callbacks
):
    request = open_request(platform.subject, ["access"])
    with django_capture_on_commit_callbacks(execute=False):
        fulfilment_start(request=request, actor=officer)
    # Locate inline, then leave the export's job outstanding and ask for progress three times.
    for step in FulfilmentStep.objects.filter(request=request, kind="locate"):
        with django_capture_on_commit_callbacks(execute=False):
            locate_step_run(step_id=step.pk)
    bundle = ExportBundle.objects.get(request=request)
    with django_capture_on_commit_callbacks(execute=False):
        for _ in range(3):
            bundle_progress(bundle_id=bundle.pk)
    assert _jobs("export_system_task") == Counter({(bundle.pk, platform.system.pk): 1})


def test_an_erasure_waits_for_the_requests_export_bundle_and_then_starts_with_its_assembly(
    platform, open_request, officer, django_capture_on_commit_callbacks
):
    request = open_request(platform.subject, ["access", "erasure"])
    with django_capture_on_commit_callbacks(execute=False):
        fulfilment_start(request=request, actor=officer)
    for step in FulfilmentStep.objects.filter(request=request, kind="locate"):
        with django_capture_on_commit_callbacks(execute=False):
            locate_step_run(step_id=step.pk)
    bundle = ExportBundle.objects.get(request=request)
    with django_capture_on_commit_callbacks(execute=False):
        bundle_progress(bundle_id=bundle.pk)  # what the plans' commit runs: the export's jobs wait in the queue
    erasure = FulfilmentPlan.objects.get(request=request, kind="erasure")
    with django_capture_on_commit_callbacks(execute=True):
        plan_approve(plan=erasure, actor=officer)
    # Approved while the bundle is building: nothing is erased yet, nothing queued for it.
    assert not PendingJob.objects.filter(task_name="fulfilment.tasks.change_step_task").exists()
    assert set(FulfilmentStep.objects.filter(plan=erasure).values_list("status", flat=True)) == {"pending"}

    export_jobs = PendingJob.objects.filter(task_name="fulfilment.tasks.export_system_task", sent_at__isnull=True)
    with django_capture_on_commit_callbacks(execute=True):
        for job in export_jobs:
            job_send(job_id=job.pk)  # the worker exports, assembles, and the erasure starts
    bundle.refresh_from_db()
    erasure.refresh_from_db()
    assert bundle.status == "ready" and erasure.status == "completed"
    located = {item.table.table_name: item.rows for item in LocatedTable.objects.filter(request=request, rows__gt=0)}
    assert {table["table"]: table["rows"] for table in bundle.manifest["tables"]} == located  # every row located
    assert max(_jobs("change_step_task").values()) == 1
