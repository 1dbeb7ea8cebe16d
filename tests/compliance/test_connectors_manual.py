"""The manual connector: a task for a named person, tracked to completion in the admin."""

from datetime import UTC, datetime

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from compliance.connectors import ConnectorError, ConnectorPending, ErasurePlan, Subject, TablePlan, get_connector
from compliance.manual_tasks import manual_task_cancel, manual_task_complete, manual_task_reopen
from compliance.models import ManualTask, MappedTable, SystemOfRecord

pytestmark = pytest.mark.django_db


@pytest.fixture
def finance(officer):
    system = SystemOfRecord.objects.create(
        name="Finance drive",
        slug="finance-drive",
        owner="Finance",
        kind="manual",
        manual_assignee=officer,
        manual_instructions="Look in the Customers folder.",
    )
    for name in ["refund-letters", "expense-sheets"]:
        MappedTable.objects.create(system=system, table_name=name, subject_column="email", subject_key="email")
    return system


SUBJECT = Subject(account_ref="17", email="Grace@Example.com")


def _counts(task, **rows):
    for row in task.tables.select_related("table"):
        row.rows = rows[row.table.table_name.replace("-", "_")]
        row.save()


def test_locate_opens_one_task_for_the_assignee_and_is_pending_until_done(finance, officer):
    with pytest.raises(ConnectorPending) as pending:
        get_connector(finance).locate(SUBJECT)
    task = ManualTask.objects.get()
    assert pending.value.reference == f"manual task {task.pk}"
    assert "grace@example.com" not in str(pending.value)
    assert task.assignee == officer and task.status == ManualTask.Status.OPEN
    assert "Look in the Customers folder." in task.instructions and "count them" in task.instructions
    assert (task.subject_account_ref, task.subject_email) == ("17", "grace@example.com")
    assert sorted(task.tables.values_list("table__table_name", flat=True)) == ["expense-sheets", "refund-letters"]

    with pytest.raises(ConnectorPending, match="still open"):
        get_connector(finance).locate(SUBJECT)
    assert ManualTask.objects.count() == 1

    _counts(task, refund_letters=3, expense_sheets=0)
    manual_task_complete(task_id=task.pk, actor=officer, outcome="Found three letters.")
    counts = get_connector(finance).locate(SUBJECT)
    assert [(c.table_name, c.rows) for c in counts] == [("expense-sheets", 0), ("refund-letters", 3)]
    task.refresh_from_db()
    assert (task.subject_account_ref, task.subject_email) == ("", "")
    assert task.completed_by == officer and task.completed_at is not None


def test_a_task_cannot_be_done_without_its_row_counts(finance, officer):
    with pytest.raises(ConnectorPending):
        get_connector(finance).locate(SUBJECT)
    task = ManualTask.objects.get()
    with pytest.raises(ValidationError, match="row count of"):
        manual_task_complete(task_id=task.pk, actor=officer)
    assert ManualTask.objects.get().status == ManualTask.Status.OPEN


def test_a_cancelled_task_fails_the_call_until_reopened(finance, officer):
    with pytest.raises(ConnectorPending):
        get_connector(finance).locate(SUBJECT)
    task = ManualTask.objects.get()
    manual_task_cancel(task_id=task.pk, actor=officer, outcome="Drive decommissioned")
    with pytest.raises(ConnectorError, match="was cancelled"):
        get_connector(finance).locate(SUBJECT)

    manual_task_reopen(task_id=task.pk, actor=officer)
    with pytest.raises(ConnectorPending):
        get_connector(finance).locate(SUBJECT)
    task.refresh_from_db()
    assert task.status == ManualTask.Status.OPEN and task.subject_email == "grace@example.com"


def test_erase_lists_the_plan_and_reports_the_counts_per_action(finance, officer):
    letters = finance.tables.get(table_name="refund-letters")
    sheets = finance.tables.get(table_name="expense-sheets")
    plan = ErasurePlan([TablePlan(letters.pk, "delete"), TablePlan(sheets.pk, "keep", "6-year tax records")])
    with pytest.raises(ConnectorPending):
        get_connector(finance).erase(SUBJECT, plan)
    task = ManualTask.objects.get(operation="erase")
    assert (
        "refund-letters: delete" in task.instructions
        and "expense-sheets: keep (6-year tax records)" in task.instructions
    )
    _counts(task, refund_letters=2, expense_sheets=5)
    manual_task_complete(task_id=task.pk, actor=officer)

    outcomes = get_connector(finance).erase(SUBJECT, plan)

    assert [(o.table_name, o.deleted, o.kept, o.reason) for o in outcomes] == [
        ("refund-letters", 2, 0, ""),
        ("expense-sheets", 0, 5, "6-year tax records"),
    ]


def test_sweep_opens_one_task_for_the_table_and_cutoff_and_finishes_when_done(finance, officer):
    letters = finance.tables.get(table_name="refund-letters")
    cutoff = datetime(2020, 4, 6, tzinfo=UTC)
    for _ in range(2):
        with pytest.raises(ConnectorPending):
            get_connector(finance).sweep_batch(
                letters, timestamp_column="sent_on", cutoff=cutoff, action="delete", checkpoint=None, batch_size=100
            )
    task = ManualTask.objects.get(operation="sweep")
    manual_task_complete(task_id=task.pk, actor=officer)
    batch = get_connector(finance).sweep_batch(
        letters, timestamp_column="sent_on", cutoff=cutoff, action="delete", checkpoint=None, batch_size=100
    )
    assert batch.done and batch.affected == 0


def test_officer_marks_a_task_done_in_the_admin_with_the_counts(client, finance, officer):
    with pytest.raises(ConnectorPending):
        get_connector(finance).locate(SUBJECT)
    task = ManualTask.objects.get()
    rows = list(task.tables.order_by("table__table_name"))
    client.force_login(officer)
    url = reverse("admin:compliance_manualtask_change", args=[task.pk])
    page = client.get(url)
    assert page.status_code == 200 and b"Mark as done" in page.content
    data = {
        "assignee": officer.pk,
        "outcome": "Searched both folders.",
        "mark_done": "on",
        "tables-TOTAL_FORMS": "2",
        "tables-INITIAL_FORMS": "2",
        "tables-MIN_NUM_FORMS": "0",
        "tables-MAX_NUM_FORMS": "1000",
        "tables-0-id": rows[0].pk,
        "tables-0-task": task.pk,
        "tables-0-rows": "0",
        "tables-1-id": rows[1].pk,
        "tables-1-task": task.pk,
        "tables-1-rows": "4",
        "_save": "Save",
    }

    response = client.post(url, data)

    assert response.status_code == 302
    task.refresh_from_db()
    assert task.status == ManualTask.Status.DONE and task.completed_by == officer
    assert task.outcome == "Searched both folders."
    assert task.history.first().history_user == officer


def test_admin_refuses_done_without_counts_and_says_why(client, finance, officer):
    with pytest.raises(ConnectorPending):
        get_connector(finance).locate(SUBJECT)
    task = ManualTask.objects.get()
    rows = list(task.tables.order_by("table__table_name"))
    client.force_login(officer)
    url = reverse("admin:compliance_manualtask_change", args=[task.pk])
    data = {
        "assignee": officer.pk,
        "outcome": "",
        "mark_done": "on",
        "tables-TOTAL_FORMS": "2",
        "tables-INITIAL_FORMS": "2",
        "tables-MIN_NUM_FORMS": "0",
        "tables-MAX_NUM_FORMS": "1000",
        "tables-0-id": rows[0].pk,
        "tables-0-task": task.pk,
        "tables-0-rows": "",
        "tables-1-id": rows[1].pk,
        "tables-1-task": task.pk,
        "tables-1-rows": "",
        "_save": "Save",
    }
    response = client.post(url, data, follow=True)
    assert "Give the row count of expense-sheets, refund-letters" in response.content.decode()
    assert ManualTask.objects.get().status == ManualTask.Status.OPEN


def test_auditor_sees_tasks_but_cannot_change_them(client, finance, auditor):
    with pytest.raises(ConnectorPending):
        get_connector(finance).locate(SUBJECT)
    client.force_login(auditor)
    task = ManualTask.objects.get()
    page = client.get(reverse("admin:compliance_manualtask_change", args=[task.pk]))
    assert page.status_code == 200 and b'name="_save"' not in page.content
