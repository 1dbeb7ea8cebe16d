"""Data map changes and the record-of-processing export are access events, recorded through the admin."""

import csv
import io

import pytest
from django.db import connections
from django.urls import reverse

from compliance.datamap import datamap_import
from compliance.models import MappedTable, SystemOfRecord
from security.models import AccessEvent
from tests.audit_helpers import admin_form_data, events, the_event
from tests.compliance.datamap_fixtures import PLATFORM_DATABASES, shipped_map

pytestmark = pytest.mark.django_db(databases=PLATFORM_DATABASES)
CHANGED = AccessEvent.Action.CHANGED_DATA_MAP


@pytest.fixture
def system(datamap_baseline):
    datamap_import(shipped_map())
    return SystemOfRecord.objects.get(slug="studio-platform")


def test_changing_a_mapped_table_and_its_columns_in_the_admin_is_recorded(client, officer, system):
    table = system.tables.get(table_name="api_requests")
    url = reverse("admin:compliance_mappedtable_change", args=[table.pk])
    client.force_login(officer)
    page = client.get(url)
    assert not events(CHANGED).exists()  # opening the page changes nothing
    data = admin_form_data(page)
    data["description"] = "Every call routed through the API."
    assert client.post(url, data).status_code == 302
    assert the_event(CHANGED, table, officer).detail == "changed description"
    # A column deleted from the inline is a change of the table's map too.
    data = admin_form_data(client.get(url))
    data["columns-0-DELETE"] = "on"
    assert client.post(url, data).status_code == 302
    details = sorted(events(CHANGED, table).values_list("detail", flat=True))
    assert details == ["changed description", "mapped columns: 0 added, 0 changed, 1 deleted"]


def test_adding_and_deleting_a_mapped_table_and_importing_columns_are_recorded(client, officer, system):
    client.force_login(officer)
    leaf = MappedTable.objects.filter(system=system, children__isnull=True).order_by("table_name").first()
    delete = reverse("admin:compliance_mappedtable_delete", args=[leaf.pk])
    assert client.post(delete, {"post": "yes"}).status_code == 302
    assert not MappedTable.objects.filter(pk=leaf.pk).exists()
    event = the_event(CHANGED, leaf, officer)
    assert event.detail == "deleted"

    add = client.post(
        reverse("admin:compliance_mappedtable_add"),
        {
            "system": system.pk,
            "table_name": leaf.table_name,
            "primary_key": leaf.primary_key,
            "subject_column": leaf.subject_column,
            "subject_key": leaf.subject_key,
            "parent": leaf.parent_id or "",
            "parent_column": leaf.parent_column,
            "columns-TOTAL_FORMS": "0",
            "columns-INITIAL_FORMS": "0",
            "columns-MIN_NUM_FORMS": "0",
            "columns-MAX_NUM_FORMS": "1000",
        },
    )
    assert add.status_code == 302, add.context["adminform"].form.errors if add.context else add
    added = MappedTable.objects.get(system=system, table_name=leaf.table_name)
    assert the_event(CHANGED, added, officer).detail == "added"

    with connections["platform"].cursor() as cursor:
        cursor.execute("ALTER TABLE api_requests ADD COLUMN region varchar(20) NULL")
    requests = system.tables.get(table_name="api_requests")
    client.post(
        reverse("admin:compliance_mappedtable_changelist"),
        {"action": "import_columns_from_schema", "_selected_action": [requests.pk]},
    )
    assert the_event(CHANGED, requests, officer).detail == "imported 1 column(s) from the schema"


def test_an_auditor_changes_nothing_and_records_no_change(client, auditor, system):
    table = system.tables.get(table_name="api_requests")
    client.force_login(auditor)
    url = reverse("admin:compliance_mappedtable_change", args=[table.pk])
    assert client.get(url).status_code == 200
    assert client.post(url, {"description": "x"}).status_code == 403
    assert (
        client.post(reverse("admin:compliance_mappedtable_delete", args=[table.pk]), {"post": "yes"}).status_code == 403
    )
    assert not events(CHANGED).exists()


def test_exporting_the_record_of_processing_is_recorded(client, auditor, datamap_baseline):
    from compliance.models import ProcessingActivity

    activities = list(ProcessingActivity.objects.values_list("pk", flat=True))
    assert activities
    client.force_login(auditor)
    response = client.post(
        reverse("admin:compliance_processingactivity_changelist"),
        {"action": "export_csv", "_selected_action": activities},
    )
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    assert len(list(csv.reader(io.StringIO(response.content.decode())))) == len(activities) + 1
    event = events(AccessEvent.Action.EXPORTED_RECORDS).get()
    assert event.actor == auditor and event.ip_address == "127.0.0.1"
    assert event.detail == f"record of processing: {len(activities)} activities"
