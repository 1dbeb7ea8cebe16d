"""Connecting a team's own database (issue 17): no silent gaps, discovery, drift, awkward shapes.

Every test runs on a schema written for it (``crm_schema``), on PostgreSQL and on SQLite.
"""

import json
from io import StringIO

import pytest
import yaml
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.core.management.base import CommandError
from django.urls import reverse

from compliance.datamap import DataMapFileError, datamap_audit, datamap_export, datamap_import
from compliance.discovery import (
    datamap_drift_check,
    discover,
    drift_digest_lines,
    mapping_suggestion_accept,
    value_patterns,
)
from compliance.models import MappedColumn, MappedTable, MappingSuggestion, ReviewedTable, SystemOfRecord
from tests.compliance.crm_schema import CRM_TABLES, crm_map
from tests.compliance.datamap_fixtures import BOTH_PLATFORMS

pytestmark = pytest.mark.django_db(databases=BOTH_PLATFORMS)

FORGOTTEN = ["AuditLog", "CustomerSegment", "Newsletter", "Preference"]


def _audit(crm) -> list[str]:
    return datamap_audit(systems=SystemOfRecord.objects.filter(pk=crm.system.pk))


# -- 1. the audit names every table the map does not know --------------------------------------------


def test_datamap_audit_fails_naming_each_table_the_map_forgot(crm):
    out = StringIO()
    with pytest.raises(CommandError, match="4 problem"):
        call_command("datamap_audit", "--system", crm.system.slug, stdout=out)
    assert out.getvalue().splitlines() == [
        f"{crm.system.slug}.{name}: table is not in the data map: map it, or mark it reviewed as not personal "
        "(run datamap_discover for suggestions)."
        for name in FORGOTTEN
    ]


def test_mapped_only_keeps_the_old_audit_and_a_reviewed_table_counts_as_covered(crm):
    out = StringIO()
    call_command("datamap_audit", "--system", crm.system.slug, "--mapped-only", stdout=out)
    assert "no problems" in out.getvalue()

    ReviewedTable.objects.create(system=crm.system, table_name="CustomerSegment", reason="Segment codes only.")
    assert [line.split(":")[0] for line in _audit(crm)] == [
        f"{crm.system.slug}.{name}" for name in ["AuditLog", "Newsletter", "Preference"]
    ]


def test_a_reviewed_table_must_exist_and_cannot_also_be_mapped(crm):
    with pytest.raises(ValidationError, match="does not exist"):
        ReviewedTable(system=crm.system, table_name="Ghost", reason="x").full_clean()
    with pytest.raises(ValidationError, match="is in the data map"):
        ReviewedTable(system=crm.system, table_name="Customer", reason="x").full_clean()
    ReviewedTable(system=crm.system, table_name="CustomerSegment", reason="Segment codes only.").full_clean()


def test_reviewed_tables_import_from_yaml_and_export_back(crm):
    data = crm_map(crm.alias, crm.system.slug)
    data["systems"][0]["reviewed_tables"] = [{"name": "CustomerSegment", "reason": "Segment codes per customer."}]
    datamap_import(data)
    assert crm.system.reviewed_tables.get().table_name == "CustomerSegment"
    from compliance.datamap import datamap_export

    exported = datamap_export(systems=SystemOfRecord.objects.filter(pk=crm.system.pk))
    assert exported["systems"][0]["reviewed_tables"] == [
        {"name": "CustomerSegment", "reason": "Segment codes per customer."}
    ]
    data["systems"][0]["reviewed_tables"] = [{"name": "Nope", "reason": "x"}]
    with pytest.raises(DataMapFileError, match="Table 'Nope' does not exist"):
        datamap_import(data)


def test_the_shipped_maps_stay_clean_under_the_new_audit(datamap_baseline):
    from django.conf import settings

    from compliance.datamap import datamap_import_file
    from tests.compliance.datamap_fixtures import shipped_map

    datamap_import(shipped_map())

    datamap_import_file(settings.BASE_DIR / "retention" / "backoffice_datamap.yaml")
    assert datamap_audit(systems=SystemOfRecord.objects.filter(slug="studio-platform")) == []
    # The back office's own database: its never-mappable tables (credentials, sessions, jobs) are reviewed
    # by design, and the shipped map covers every mappable one.
    backoffice = datamap_audit(systems=SystemOfRecord.objects.filter(slug="studio-backoffice"))
    assert not [line for line in backoffice if "table is not in the data map" in line]


# -- 2. discovery ------------------------------------------------------------------------------------


def test_value_patterns_recognise_personal_data_and_not_codes():
    assert value_patterns("ada@example.com") == {"email"}
    assert value_patterns("4111 1111 1111 1111") == {"card"}
    assert value_patterns("4111 1111 1111 1112") != {"card"}  # fails the Luhn check
    assert value_patterns("GB82 WEST 1234 5698 7654 32") == {"iban"}
    assert value_patterns("GB82 WEST 1234 5698 7654 33") != {"iban"}
    assert value_patterns("203.0.113.7") == {"ip"}
    assert "phone" in value_patterns("+44 20 7946 0018")
    assert "postcode" in value_patterns("SW1A 1AA")
    assert "phone" not in value_patterns("2026-01-01")
    assert value_patterns("paid") == set() and value_patterns(12) == set()


def test_discovery_suggests_the_subject_paths_categories_and_evidence(crm):
    MappedTable.objects.filter(system=crm.system, table_name="LineNote").delete()
    MappedTable.objects.filter(system=crm.system, table_name="OrderLine").delete()
    discovery = discover(crm.system)

    newsletter = discovery.table("Newsletter")
    assert (newsletter.subject_column, newsletter.subject_key) == ("Address", "email")
    address = discovery.column("Newsletter", "Address")
    assert address.category == "account-identity" and address.treatment == "delete_row"
    assert address.evidence.startswith("3 of 3 sampled values look like email addresses")

    # The three-level chain, from the schema's foreign keys: LineNote → OrderLine → Order (→ Customer).
    line = discovery.table("OrderLine")
    note = discovery.table("LineNote")
    assert (line.parent, line.parent_column) == ("Order", "OrderId")
    assert (note.parent, note.parent_column) == ("OrderLine", "OrderLineId")
    assert "LineNote → OrderLine → Order" in note.evidence
    assert discovery.column("LineNote", "Body").category == "content"

    preference = discovery.table("Preference")
    assert (preference.subject_column, preference.subject_key) == ("CustomerId", "account_id")
    settings_column = discovery.column("Preference", "Settings")
    assert settings_column.evidence.startswith("3 of 3 sampled values contain an email address")
    assert (settings_column.treatment, settings_column.replacement) in {("redact", ""), ("null", ""), ("fixed", "{}")}

    log = discovery.table("AuditLog")
    assert log.primary_key == "" and "no primary key" in log.evidence
    assert (log.subject_column, log.subject_key) == ("ActorEmail", "email")
    assert discovery.column("AuditLog", "ClientIp").category == "api-usage"
    assert discovery.column("AuditLog", "At").is_timestamp

    segment = discovery.table("CustomerSegment")
    assert segment.primary_key == "CustomerId,Segment" and "CustomerId, Segment" in segment.evidence
    assert segment.subject_column == "CustomerId"


def test_the_draft_imports_after_review_and_the_audit_then_passes(crm, tmp_path):
    target = tmp_path / "draft.yaml"
    err = StringIO()
    call_command("datamap_discover", "--system", crm.system.slug, "-o", str(target), stderr=err)
    assert "draft written" in err.getvalue()
    text = target.read_text()
    assert text.startswith("# DRAFT") and "ada@example.com" not in text and "4111" not in text
    before = MappedTable.objects.count()
    assert MappedTable.objects.count() == before  # nothing imported by discovery

    draft = yaml.safe_load(text)
    datamap_import(draft)  # as written: every suggestion still flagged
    problems = _audit(crm)
    assert problems and [line for line in problems if "flagged for review" not in line] == []
    assert any(line.startswith(f"{crm.system.slug}.Newsletter.Address:") for line in problems)

    # The review: a person reads each suggestion and clears its flag.
    for table in draft["systems"][0]["tables"]:
        for column in table.get("columns", []):
            column.pop("needs_review", None)
    for table in draft["systems"][0].get("reviewed_tables", []):
        table.pop("needs_review", None)
    datamap_import(draft)
    assert _audit(crm) == []
    newsletter = crm.system.tables.get(table_name="Newsletter")
    assert (newsletter.subject_column, newsletter.subject_key) == ("Address", "email")


def test_admin_discovery_shows_evidence_and_suggestions_are_accepted_one_by_one(crm, client, officer):
    client.force_login(officer)
    response = client.post(
        reverse("admin:compliance_systemofrecord_changelist"),
        {"action": "discover_suggestions", "_selected_action": [crm.system.pk]},
        follow=True,
    )
    assert "suggestion(s) to review" in response.content.decode()
    assert not crm.system.tables.filter(table_name="Newsletter").exists()
    listing = client.get(reverse("admin:compliance_mappingsuggestion_changelist") + "?status__exact=open")
    assert "3 of 3 sampled values look like email addresses" in listing.content.decode()
    assert "ada@example.com" not in listing.content.decode()

    column = MappingSuggestion.objects.get(system=crm.system, table_name="Newsletter", column_name="Address")
    response = client.post(
        reverse("admin:compliance_mappingsuggestion_changelist"),
        {"action": "accept_suggestions", "_selected_action": [column.pk]},
        follow=True,
    )
    assert "map the table &#x27;Newsletter&#x27; first" in response.content.decode()
    assert not MappedColumn.objects.filter(table__system=crm.system, name="Address").exists()

    table = MappingSuggestion.objects.get(system=crm.system, table_name="Newsletter", kind="table")
    for suggestion in (table, column):
        client.post(
            reverse("admin:compliance_mappingsuggestion_changelist"),
            {"action": "accept_suggestions", "_selected_action": [suggestion.pk]},
        )
    mapped = MappedColumn.objects.get(table__system=crm.system, table__table_name="Newsletter", name="Address")
    assert (mapped.data_category.slug, mapped.treatment, mapped.needs_review) == (
        "account-identity",
        "delete_row",
        False,
    )
    assert MappingSuggestion.objects.get(pk=column.pk).status == "accepted"
    assert MappingSuggestion.objects.get(pk=column.pk).decided_by == officer
    page = client.get(reverse("admin:compliance_mappingsuggestion_change", args=[column.pk]))
    assert page.status_code == 200 and "3 of 3 sampled values look like email addresses" in page.content.decode()


def test_auditors_see_suggestions_but_cannot_accept_or_run_discovery(crm, client, auditor):
    suggestion = MappingSuggestion.objects.create(
        system=crm.system, kind="reviewed", table_name="CustomerSegment", evidence="no column looks personal"
    )
    client.force_login(auditor)
    assert client.get(reverse("admin:compliance_mappingsuggestion_changelist")).status_code == 200
    client.post(
        reverse("admin:compliance_mappingsuggestion_changelist"),
        {"action": "accept_suggestions", "_selected_action": [suggestion.pk]},
    )
    client.post(
        reverse("admin:compliance_systemofrecord_changelist"),
        {"action": "discover_suggestions", "_selected_action": [crm.system.pk]},
    )
    assert MappingSuggestion.objects.get(pk=suggestion.pk).status == "open"
    assert MappingSuggestion.objects.count() == 1
    assert not ReviewedTable.objects.filter(system=crm.system).exists()


# -- 3. drift ----------------------------------------------------------------------------------------


def test_drift_is_flagged_after_a_not_personal_column_starts_holding_emails(crm, client, officer):
    assert datamap_drift_check() == []
    crm.sql('UPDATE "OrderLine" SET "Sku" = %s', ["someone@example.com"])

    flagged = datamap_drift_check()

    assert [(s.table_name, s.column_name) for s in flagged] == [("OrderLine", "Sku")]
    assert flagged[0].evidence == "marked not personal, but 3 of 3 sampled values look like email addresses"
    assert datamap_drift_check()[0].pk == flagged[0].pk  # refreshed, not repeated
    lines = drift_digest_lines()
    assert lines == [
        f"Data map: {crm.system.slug}.OrderLine.Sku is marked not personal, but 3 of 3 sampled values look like "
        "email addresses; review its suggestion"
    ]
    client.force_login(officer)
    page = client.get(reverse("admin:index")).content.decode()
    assert f"{crm.system.slug}.OrderLine.Sku" in page and "someone@example.com" not in page

    from django.core import mail

    from requests_app.services.notifications import digests_send

    assert digests_send() == 1
    body = mail.outbox[-1].body
    assert lines[0] in body and "someone@example.com" not in body

    mapping_suggestion_accept(suggestion_id=flagged[0].pk, actor=officer)
    sku = MappedColumn.objects.get(table__system=crm.system, table__table_name="OrderLine", name="Sku")
    assert not sku.not_personal and sku.data_category.slug == "account-identity"


def test_the_dashboard_says_no_drift_when_there_is_none(crm, client, officer):
    client.force_login(officer)
    assert "No drift" in client.get(reverse("admin:index")).content.decode()


# -- 4. awkward shapes, the same on both backends ----------------------------------------------------


def test_a_named_key_must_identify_a_row(crm):
    order = crm.system.tables.get(table_name="Order")
    order.primary_key = "Status"
    with pytest.raises(ValidationError, match="neither the primary key .* nor under a unique constraint"):
        order.full_clean()
    customer = crm.system.tables.get(table_name="Customer")
    customer.primary_key = "EmailAddress"  # a unique column
    customer.full_clean()


def test_a_keyless_table_takes_no_key_and_cannot_be_a_parent(crm):
    data = crm_map(crm.alias, crm.system.slug)
    data["systems"][0]["tables"].append(
        {"name": "AuditLog", "subject_column": "ActorEmail", "subject_key": "email", "columns": []}
    )
    datamap_import(data)
    log = crm.system.tables.get(table_name="AuditLog")
    assert log.primary_key == ""
    child = MappedTable(system=crm.system, table_name="Newsletter", parent=log, parent_column="Address")
    with pytest.raises(ValidationError, match="has no primary key to join on"):
        child.full_clean()

    import datetime as dt

    from compliance.connectors import ConnectorError, Subject, get_connector

    connector = get_connector(crm.system)
    with pytest.raises(ConnectorError, match="names no primary key, and a sweep works through the table"):
        connector.sweep_batch(
            log,
            timestamp_column="At",
            cutoff=dt.datetime(2027, 1, 1, tzinfo=dt.UTC),
            action="delete",
            checkpoint=None,
            batch_size=10,
        )
    # Located by its subject all the same.
    counts = {c.table_name: c.rows for c in connector.locate(Subject(email="ada@example.com"))}
    assert counts["AuditLog"] == 1 and counts["Customer"] == 1


def test_json_fixed_replacement_must_be_json_and_sqlite_types_are_read_by_affinity(crm):
    data = crm_map(crm.alias, crm.system.slug)
    data["systems"][0]["tables"].append(
        {
            "name": "Preference",
            "subject_column": "CustomerId",
            "subject_key": "account_id",
            "columns": [
                {"name": "Settings", "category": "account-identity", "treatment": "fixed", "replacement": "erased"}
            ],
        }
    )
    with pytest.raises(DataMapFileError, match="holds JSON"):
        datamap_import(data)
    data["systems"][0]["tables"][-1]["columns"][0]["replacement"] = "{}"
    datamap_import(data)

    # TIMESTAMP is a timestamp, NVARCHAR(60) holds 60 characters: a hash (69) does not fit, on both backends.
    full_name = MappedColumn.objects.get(table__system=crm.system, table__table_name="Customer", name="FullName")
    full_name.treatment = "hash"
    with pytest.raises(ValidationError, match="holds 60 characters"):
        full_name.full_clean()
    created = MappedColumn.objects.get(table__system=crm.system, name="CreatedAt")
    assert created.is_timestamp
    created.full_clean()


def test_crm_tables_exist_on_the_backend(crm):
    from django.db import connections

    assert crm.vendor == connections[crm.alias].vendor
    assert set(CRM_TABLES) <= set(connections[crm.alias].introspection.table_names())


# -- 5. composite keys, keyless tables, other schemas, views ------------------------------------------

SEGMENT = {
    "name": "CustomerSegment",
    "primary_key": ["CustomerId", "Segment"],
    "subject_column": "CustomerId",
    "subject_key": "account_id",
    "columns": [
        {"name": "CustomerId", "category": "account-identity"},
        {"name": "Segment", "category": "account-identity", "treatment": "delete_row"},
        {"name": "Since", "not_personal": True, "timestamp": True},
    ],
}


def _with(crm, *tables) -> dict:
    data = crm_map(crm.alias, crm.system.slug)
    data["systems"][0]["tables"].extend(tables)
    return data


def test_a_composite_key_is_written_as_a_list_and_exported_back(crm):
    datamap_import(_with(crm, SEGMENT))
    segment = crm.system.tables.get(table_name="CustomerSegment")
    assert segment.primary_key == "CustomerId,Segment" and segment.key_columns() == ["CustomerId", "Segment"]
    exported = datamap_export(systems=SystemOfRecord.objects.filter(pk=crm.system.pk))
    table = next(t for t in exported["systems"][0]["tables"] if t["name"] == "CustomerSegment")
    assert table["primary_key"] == ["CustomerId", "Segment"]
    # Reimporting what was exported changes nothing; "CustomerId, Segment" as text is the same key.
    assert datamap_import(exported).updated == 0
    segment.primary_key = "CustomerId, Segment"
    segment.full_clean()
    assert segment.primary_key == "CustomerId,Segment"

    segment.primary_key = "Segment"  # not unique alone
    with pytest.raises(ValidationError, match="neither the primary key .* \\(CustomerId, Segment\\)"):
        segment.full_clean()
    segment.primary_key = "CustomerId,Nope"
    with pytest.raises(ValidationError, match="Column 'Nope' does not exist"):
        segment.full_clean()
    # A child joins on one column: a table with a key of several cannot be a parent.
    child = MappedTable(system=crm.system, table_name="Newsletter", parent=segment, parent_column="SignupId")
    with pytest.raises(ValidationError, match="has a key of several columns"):
        child.full_clean()


def test_a_table_with_a_composite_key_is_located_exported_erased_and_swept(crm):
    import datetime as dt

    from compliance.connectors import ErasurePlan, Subject, TablePlan, get_connector
    from compliance.connectors.sql import keys_digest
    from tests.compliance.datamap_fixtures import MemorySink

    datamap_import(_with(crm, SEGMENT))
    segment = crm.system.tables.get(table_name="CustomerSegment")
    connector = get_connector(crm.system)
    ada = Subject(email="ada@example.com")
    assert {c.table_name: c.rows for c in connector.locate(ada)}["CustomerSegment"] == 2
    sink = MemorySink(formats=("csv",))
    connector.export(ada, sink)
    assert sink.text("CustomerSegment", "csv").splitlines() == [
        "CustomerId,Segment,Since",
        "1,retail,2026-01-01",
        "1,vip,2026-02-01",
    ]

    # The sweep walks (CustomerId, Segment) in order, two keys a batch; each batch's evidence is the digest
    # of its keys, the same on both backends, and a checkpoint resumes after the composite key.
    batches, checkpoint = [], None
    while True:
        batch = connector.sweep_batch(
            segment,
            timestamp_column="Since",
            cutoff=dt.datetime(2026, 1, 15, tzinfo=dt.UTC),
            action="delete",
            checkpoint=checkpoint,
            batch_size=2,
        )
        batches.append(batch)
        checkpoint = batch.checkpoint
        if batch.done:
            break
    assert [b.checkpoint for b in batches] == ['["1", "vip"]', '["2", "vip"]', '["3", "retail"]']
    assert [b.affected for b in batches] == [1, 1, 1]  # the retail rows, older than the cutoff
    assert batches[0].keys_sha256 == keys_digest(["1|retail"])
    assert crm.sql('SELECT "CustomerId", "Segment" FROM "CustomerSegment" ORDER BY 1, 2') == [(1, "vip"), (2, "vip")]

    plan = ErasurePlan([TablePlan(segment.pk, "delete")])
    outcome = connector.erase(Subject(email="grace@example.org"), plan)
    assert [(o.table_name, o.deleted) for o in outcome] == [("CustomerSegment", 1)]
    assert crm.sql('SELECT "CustomerId", "Segment" FROM "CustomerSegment"') == [(1, "vip")]


def test_a_key_left_out_is_the_tables_own_and_never_a_made_up_id(crm):
    log = {"name": "AuditLog", "subject_column": "ActorEmail", "subject_key": "email", "columns": []}
    segment = {k: v for k, v in SEGMENT.items() if k != "primary_key"}
    datamap_import(_with(crm, log, segment))
    keys = dict(crm.system.tables.values_list("table_name", "primary_key"))
    assert (keys["Customer"], keys["CustomerSegment"], keys["AuditLog"]) == ("CustomerId", "CustomerId,Segment", "")

    # A table that does not exist: the error names the table, not a column "id" nobody wrote.
    data = _with(crm, {"name": "Ghost", "subject_column": "Email", "subject_key": "email"})
    with pytest.raises(DataMapFileError) as error:
        datamap_import(data)
    assert any("Table 'Ghost' does not exist" in line for line in error.value.problems)
    assert not any("'id'" in line for line in error.value.problems)


def test_a_view_is_located_and_exported_but_never_erased_or_swept(crm):
    import datetime as dt

    from compliance.connectors import ConnectorError, ErasurePlan, Subject, TablePlan, get_connector
    from tests.compliance.datamap_fixtures import MemorySink

    view = crm.system.tables.get(table_name="CustomerCard")
    connector = get_connector(crm.system)
    ada = Subject(email="ada@example.com")
    assert {c.table_name: c.rows for c in connector.locate(ada)}["CustomerCard"] == 1
    sink = MemorySink(formats=("jsonl",))
    connector.export(ada, sink)
    assert json.loads(sink.text("CustomerCard", "jsonl"))["FullName"] == "Ada Lovelace"

    with pytest.raises(ConnectorError, match="CustomerCard is a view: .* erasure never writes through a view"):
        connector.erase(ada, ErasurePlan([TablePlan(view.pk, "delete")]))
    with pytest.raises(ConnectorError, match="a retention sweep never writes through a view"):
        connector.sweep_batch(
            view,
            timestamp_column="Customer.CreatedAt",
            cutoff=dt.datetime(2027, 1, 1, tzinfo=dt.UTC),
            action="delete",
            checkpoint=None,
            batch_size=10,
        )
    assert crm.sql('SELECT count(*) FROM "Customer"') == [(3,)]
    # Kept, with nothing to count against the request: the view's rows are erased in Customer.
    kept = connector.erase(ada, ErasurePlan([TablePlan(view.pk, "keep")]))
    assert [(o.table_name, o.kept) for o in kept] == [("CustomerCard", 1)]


def test_a_view_is_not_a_forgotten_table_and_discovery_leaves_it_out(crm):
    from compliance.connectors.introspection import SchemaReader

    crm.system.tables.filter(table_name="CustomerCard").delete()
    assert "CustomerCard" in SchemaReader(crm.alias).table_names()
    assert not [line for line in _audit(crm) if "CustomerCard" in line]
    assert discover(crm.system).table("CustomerCard") is None


@pytest.mark.django_db(databases=BOTH_PLATFORMS)
def test_a_table_of_a_second_postgresql_schema_is_mapped_by_its_qualified_name(crm_pg):
    from compliance.connectors import ErasurePlan, Subject, TablePlan, get_connector
    from tests.compliance.datamap_fixtures import MemorySink

    crm = crm_pg
    contact = crm.system.tables.get(table_name="crm.Contact")
    connector = get_connector(crm.system)
    grace = Subject(email="grace@example.org")
    assert {c.table_name: c.rows for c in connector.locate(grace)}["crm.Contact"] == 1
    sink = MemorySink(formats=("csv",))
    connector.export(grace, sink)
    assert sink.text("crm.Contact", "csv").splitlines() == [
        "ContactId,Email,Note",
        "2,grace@example.org,Met at the trade fair",
    ]
    outcome = connector.erase(grace, ErasurePlan([TablePlan(contact.pk, "mask")]))
    assert [(o.table_name, o.deleted) for o in outcome] == [("crm.Contact", 1)]
    assert crm.sql('SELECT "ContactId" FROM crm."Contact" ORDER BY 1') == [(1,), (3,)]

    # Forgotten, the audit names it by its qualified name.
    contact.delete()
    assert f"{crm.system.slug}.crm.Contact: table is not in the data map" in "\n".join(_audit(crm))
    # A name that only looks qualified is refused like any unknown table.
    with pytest.raises(ValidationError, match="Table 'nope.Contact' does not exist"):
        MappedTable(system=crm.system, table_name="nope.Contact").full_clean()


# -- 6. categories declared in the file ----------------------------------------------------------------


def test_the_file_may_declare_its_categories_and_an_unknown_one_is_one_short_line(crm):
    from compliance.models import DataCategory

    data = crm_map(crm.alias, crm.system.slug)
    for table in data["systems"][0]["tables"]:
        for column in table["columns"]:
            if column.get("category") == "billing-transactions":
                column["category"] = "order-history"
    with pytest.raises(DataMapFileError) as error:
        datamap_import(data)
    assert error.value.problems == [
        f"unknown data category 'order-history' (used by {crm.system.slug}.Order.CustomerId and 3 more): declare "
        "it in the file under data_categories (slug, name, description, examples), or add it in the admin under "
        "Data categories."
    ]

    data["data_categories"] = [
        {
            "slug": "order-history",
            "name": "Order history",
            "description": "What a customer ordered and paid.",
            "examples": ["order totals", "card numbers"],
        }
    ]
    datamap_import(data)
    category = DataCategory.objects.get(slug="order-history")
    assert (category.name, category.examples) == ("Order history", "order totals\ncard numbers")
    assert (
        MappedColumn.objects.get(table__system=crm.system, table__table_name="Payment", name="Iban").data_category
        == category
    )
    assert datamap_import(data).created == 0  # declared again: the existing category is used as it is


def test_the_admin_add_form_proposes_no_made_up_key(crm, client, officer):
    client.force_login(officer)
    page = client.get(reverse("admin:compliance_mappedtable_add")).content.decode()
    assert 'name="primary_key"' in page and 'name="primary_key" value="id"' not in page
