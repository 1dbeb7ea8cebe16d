"""Manual tasks say which request, which system and which action; none is opened only to keep rows."""

import pytest
from django.urls import reverse

from compliance.connectors import ConnectorPending, ErasurePlan, Subject, TablePlan, get_connector
from compliance.models import ManualTask, MappedTable, SystemOfRecord

pytestmark = pytest.mark.django_db


@pytest.fixture
def finance(officer):
    system = SystemOfRecord.objects.create(
        name="Finance drive", slug="finance-drive", owner="Finance", kind="manual", manual_assignee=officer
    )
    for name in ["refund-letters", "expense-sheets"]:
        MappedTable.objects.create(system=system, table_name=name, subject_column="email", subject_key="email")
    return system


SUBJECT = Subject(account_ref="17", email="grace@example.com", reference="DSR-2026-00046")


def test_a_task_title_names_the_request_the_action_and_the_system(finance):
    with pytest.raises(ConnectorPending):
        get_connector(finance).locate(SUBJECT)
    assert ManualTask.objects.get().title == "DSR-2026-00046: Find in Finance drive"


def test_the_reference_is_not_part_of_who_the_subject_is():
    assert Subject(account_ref="17", email="grace@example.com") == SUBJECT


def test_an_erasure_plan_that_keeps_everything_opens_no_task_and_one_that_changes_rows_does(finance):
    tables = list(finance.tables.order_by("table_name"))
    keep_all = ErasurePlan(tables=[TablePlan(table_id=t.pk, action="keep", reason="Invoices: 6 years") for t in tables])
    outcomes = get_connector(finance).erase(SUBJECT, keep_all)
    assert [(o.table_name, o.deleted, o.masked) for o in outcomes] == [
        ("expense-sheets", 0, 0),
        ("refund-letters", 0, 0),
    ]
    assert not ManualTask.objects.exists()
    one_change = ErasurePlan(
        tables=[TablePlan(table_id=tables[0].pk, action="delete"), TablePlan(table_id=tables[1].pk, action="keep")]
    )
    with pytest.raises(ConnectorPending):
        get_connector(finance).erase(SUBJECT, one_change)
    task = ManualTask.objects.get()
    assert task.operation == "erase" and task.title == "DSR-2026-00046: Erase in Finance drive"


def test_the_task_list_shows_request_action_and_system_columns_and_finds_a_task_by_number(client, officer, finance):
    with pytest.raises(ConnectorPending):
        get_connector(finance).locate(SUBJECT)
    client.force_login(officer)
    page = client.get(reverse("admin:compliance_manualtask_changelist") + "?q=00046", follow=True)
    html = page.content.decode()
    assert page.status_code == 200 and len(page.context["cl"].result_list) == 1
    for header in ("Request", "Action", "System"):
        assert f">{header}</a>" in html or f">{header}</span>" in html
    assert ">DSR-2026-00046</a>" in html and ">Find</a>" in html and "Finance drive" in html
    assert (
        list(
            client.get(reverse("admin:compliance_manualtask_changelist") + "?q=00047", follow=True)
            .context["cl"]
            .result_list
        )
        == []
    )
