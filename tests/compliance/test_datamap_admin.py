"""The data map in the admin: schema check and column import actions, alias choice, history, demo."""

from io import StringIO

import pytest
from django.contrib.messages import get_messages
from django.db import connections
from django.urls import reverse

from compliance.datamap import datamap_import
from compliance.demo import load_demo as load_datamap_demo
from compliance.history import set_history_actor
from compliance.models import ManualTask, MappedColumn, MappedTable, SystemOfRecord
from sample_platform.demo import load_demo as load_platform_demo
from tests.compliance.datamap_fixtures import PLATFORM_DATABASES, shipped_map

pytestmark = pytest.mark.django_db(databases=PLATFORM_DATABASES)


@pytest.fixture
def system(datamap_baseline):
    datamap_import(shipped_map())
    return SystemOfRecord.objects.get(slug="studio-platform")


def _messages(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


def test_check_against_schema_reports_problems_or_a_clean_bill(client, officer, system):
    client.force_login(officer)
    url = reverse("admin:compliance_systemofrecord_changelist")
    action = {"action": "check_against_schema", "_selected_action": [system.pk]}

    clean = client.post(url, action, follow=True)
    assert _messages(clean) == ["1 system(s): the map matches the database schema."]

    with connections["platform"].cursor() as cursor:
        cursor.execute("ALTER TABLE invoices ADD COLUMN vat_number varchar(20) NULL")
    drifted = client.post(url, action, follow=True)
    assert _messages(drifted) == ["studio-platform.invoices.vat_number: column is not in the data map (unclassified)."]


def test_check_against_schema_on_selected_tables(client, auditor, system):
    client.force_login(auditor)  # a read-only role may check
    with connections["platform"].cursor() as cursor:
        cursor.execute("ALTER TABLE prompts ADD COLUMN language varchar(8) NULL")
    prompts = system.tables.get(table_name="prompts")
    accounts = system.tables.get(table_name="accounts")
    url = reverse("admin:compliance_mappedtable_changelist")

    response = client.post(
        url, {"action": "check_against_schema", "_selected_action": [prompts.pk, accounts.pk]}, follow=True
    )

    assert _messages(response) == ["studio-platform.prompts.language: column is not in the data map (unclassified)."]


def test_import_columns_from_schema_adds_flagged_columns_and_the_filter_finds_them(client, officer, system):
    with connections["platform"].cursor() as cursor:
        cursor.execute("ALTER TABLE api_requests ADD COLUMN region varchar(20) NULL")
    client.force_login(officer)
    requests = system.tables.get(table_name="api_requests")

    response = client.post(
        reverse("admin:compliance_mappedtable_changelist"),
        {"action": "import_columns_from_schema", "_selected_action": [requests.pk]},
        follow=True,
    )

    assert _messages(response) == [
        "studio-platform.api_requests: imported 1 column(s) (region), unclassified and flagged for review."
    ]
    column = MappedColumn.objects.get(table=requests, name="region")
    assert column.needs_review and not column.is_classified
    assert column.history.first().history_user == officer
    listing = client.get(reverse("admin:compliance_mappedtable_changelist"), {"review": "yes"})
    assert list(listing.context["cl"].result_list) == [requests]


def test_auditor_cannot_import_columns(client, auditor, system):
    with connections["platform"].cursor() as cursor:
        cursor.execute("ALTER TABLE accounts ADD COLUMN locale varchar(10) NULL")
    client.force_login(auditor)
    changelist = client.get(reverse("admin:compliance_systemofrecord_changelist"))
    actions = [value for value, _ in changelist.context["action_form"].fields["action"].choices]
    assert "check_against_schema" in actions and "import_columns_from_schema" not in actions
    client.post(
        reverse("admin:compliance_systemofrecord_changelist"),
        {"action": "import_columns_from_schema", "_selected_action": [system.pk]},
    )
    assert not MappedColumn.objects.filter(name="locale").exists()


def test_the_alias_is_chosen_from_settings_and_a_bad_table_is_refused_on_save(client, officer, system):
    client.force_login(officer)
    add = client.get(reverse("admin:compliance_systemofrecord_add"))
    choices = [value for value, _ in add.context["adminform"].form.fields["database_alias"].choices]
    assert {"platform", "platform_sqlite", "default"} <= set(choices)

    response = client.post(
        reverse("admin:compliance_mappedtable_add"),
        {
            "system": system.pk,
            "table_name": "customer_secrets",
            "primary_key": "id",
            "columns-TOTAL_FORMS": "0",
            "columns-INITIAL_FORMS": "0",
            "columns-MIN_NUM_FORMS": "0",
            "columns-MAX_NUM_FORMS": "1000",
        },
    )
    assert response.status_code == 200
    assert "customer_secrets" in str(response.context["adminform"].form.errors)
    assert not MappedTable.objects.filter(table_name="customer_secrets").exists()


def test_editing_a_column_in_the_admin_keeps_history(client, officer, system):
    client.force_login(officer)
    column = MappedColumn.objects.get(table__table_name="api_requests", name="user_agent")
    column.treatment = "keep"
    set_history_actor(column, officer)
    column.save()
    history = reverse("admin:compliance_mappedtable_history", args=[column.table_id])
    assert client.get(history).status_code == 200
    assert column.history.count() == 2


def test_the_table_page_shows_which_columns_are_withheld_from_access_answers_and_why(client, officer, system):
    import re

    client.force_login(officer)
    table = MappedTable.objects.get(system=system, table_name="api_keys")
    page = client.get(reverse("admin:compliance_mappedtable_change", args=[table.pk])).content.decode()
    assert "Withheld from access answers" in page
    index = MappedColumn.objects.filter(table=table).order_by("name").values_list("name", flat=True)
    rows = {name: i for i, name in enumerate(index)}
    selects = {
        int(m.group(1)): m.group(2)
        for m in re.finditer(r'<select name="columns-(\d+)-access_withheld"(.*?)</select>', page, re.S)
    }
    assert '<option value="security" selected>security of the service</option>' in selects[rows["key_hash"]]
    assert "selected>security" not in selects[rows["prefix"]]


def test_demo_loads_the_map_and_one_manual_task_idempotently(officer):
    # The demo users exist when the demo steps run; the officer fixture stands in for them.
    officer.username = "officer"
    officer.save()
    out = StringIO()
    load_platform_demo(stdout=out)
    load_datamap_demo(stdout=out)
    systems = set(SystemOfRecord.objects.values_list("slug", "database_alias"))
    assert systems == {("studio-platform", "platform"), ("finance-shared-drive", "")}
    counts = (MappedTable.objects.count(), MappedColumn.objects.count(), ManualTask.objects.count())
    assert counts[2] == 1

    load_platform_demo(stdout=out)
    load_datamap_demo(stdout=out)

    assert (MappedTable.objects.count(), MappedColumn.objects.count(), ManualTask.objects.count()) == counts
    task = ManualTask.objects.get()
    assert task.assignee == officer and task.status == ManualTask.Status.OPEN
    assert "waits for the officer" in out.getvalue()
