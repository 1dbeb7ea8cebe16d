"""The data map: YAML import and export, validation against the schema, the audit command."""

from io import StringIO

import pytest
import yaml
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connections

from compliance.datamap import (
    DataMapFileError,
    datamap_audit,
    datamap_dump,
    datamap_import,
    mapped_table_import_columns,
)
from compliance.models import ColumnTreatment, MappedColumn, MappedTable, SystemOfRecord
from tests.compliance.datamap_fixtures import (
    PLATFORM_DATABASES,
    shipped_map,
)

pytestmark = pytest.mark.django_db(databases=PLATFORM_DATABASES)


def _history_rows() -> int:
    return sum(model.history.count() for model in (SystemOfRecord, MappedTable, MappedColumn))


# -- import and export --------------------------------------------------------------------------


def test_shipped_map_imports_every_table_and_column_and_a_second_import_changes_nothing(datamap_baseline):
    report = datamap_import(shipped_map())
    system = SystemOfRecord.objects.get(slug="studio-platform")
    assert system.database_alias == "platform"
    assert set(system.tables.values_list("table_name", flat=True)) == {
        "organisations",
        "accounts",
        "api_keys",
        "wallet_transactions",
        "invoices",
        "api_requests",
        "prompts",
        "outputs",
        "support_tickets",
        "support_messages",
        "visitor_events",
    }
    outputs = system.tables.get(table_name="outputs")
    assert [t.table_name for t in outputs.join_path()] == ["outputs", "prompts", "api_requests"]
    email = MappedColumn.objects.get(table__system=system, table__table_name="accounts", name="email")
    assert (email.data_category.slug, email.treatment) == ("account-identity", ColumnTreatment.HASH)
    reviewed = system.reviewed_tables.get()
    assert reviewed.table_name == "django_migrations"  # the database's other table, reviewed as not personal
    assert report.created == MappedColumn.objects.count() + MappedTable.objects.count() + 1 + 1
    history = _history_rows()

    again = datamap_import(shipped_map())

    assert (again.created, again.updated) == (0, 0)
    assert _history_rows() == history


def test_export_then_import_round_trips_the_map(datamap_baseline):
    datamap_import(shipped_map())
    first = datamap_dump()
    data = yaml.safe_load(first)
    # Change something, import the exported file: back to what it was.
    MappedColumn.objects.filter(name="ip_address").update(treatment=ColumnTreatment.KEEP)
    report = datamap_import(data)
    assert report.updated == 2 and report.created == 0
    assert datamap_dump() == first


def test_a_column_withheld_from_access_answers_round_trips_and_an_unknown_reason_is_refused(datamap_baseline):
    datamap_import(shipped_map())
    key_hash = MappedColumn.objects.get(table__table_name="api_keys", name="key_hash")
    assert key_hash.access_withheld == "security"
    assert key_hash.get_access_withheld_display() == "security of the service"
    api_keys = next(t for t in yaml.safe_load(datamap_dump())["systems"][0]["tables"] if t["name"] == "api_keys")
    assert {c["name"]: c.get("withheld") for c in api_keys["columns"]}["key_hash"] == "security"

    data = shipped_map()
    data["systems"][0]["tables"][0]["columns"][0]["withheld"] = "because"
    with pytest.raises(DataMapFileError) as error:
        datamap_import(data)
    assert error.value.problems == [
        "studio-platform.organisations.id: unknown withheld reason 'because' (one of internal, security, staff)."
    ]


def test_export_datamap_command_writes_the_file(tmp_path, datamap_baseline):
    datamap_import(shipped_map())
    target = tmp_path / "map.yaml"
    call_command("export_datamap", "--output", str(target), stdout=StringIO())
    data = yaml.safe_load(target.read_text())
    assert [s["slug"] for s in data["systems"]] == ["studio-platform"]
    prompts = next(t for t in data["systems"][0]["tables"] if t["name"] == "prompts")
    assert prompts["parent"] == "api_requests" and prompts["parent_column"] == "api_request_id"


def test_import_refuses_a_bad_file_listing_every_problem_and_imports_nothing(datamap_baseline):
    data = shipped_map()
    tables = data["systems"][0]["tables"]
    tables[0]["columns"][0]["treatment"] = "shred"
    tables[1]["columns"][1]["category"] = "secrets"
    tables[2]["colour"] = "blue"

    with pytest.raises(DataMapFileError) as error:
        datamap_import(data)

    assert error.value.problems == [
        "studio-platform.organisations.id: unknown treatment 'shred'.",
        "studio-platform.tables[2]: unknown key 'colour'.",
        # One line per unknown category, however many columns use it, after the others.
        "unknown data category 'secrets' (used by studio-platform.accounts.email): declare it in the file under "
        "data_categories (slug, name, description, examples), or add it in the admin under Data categories.",
    ]
    assert not SystemOfRecord.objects.exists()


def test_import_refuses_names_missing_from_the_database_and_rolls_back(datamap_baseline):
    data = shipped_map()
    data["systems"][0]["tables"].append({"name": "customer_notes", "columns": []})
    data["systems"][0]["tables"][1]["columns"].append({"name": "shoe_size", "not_personal": True})

    with pytest.raises(DataMapFileError) as error:
        datamap_import(data)

    text = "\n".join(error.value.problems)
    assert "customer_notes" in text and "does not exist" in text
    assert "shoe_size" in text
    assert not SystemOfRecord.objects.exists() and not MappedColumn.objects.exists()


def test_import_datamap_command_fails_with_the_problems_on_stderr(tmp_path, datamap_baseline):
    path = tmp_path / "bad.yaml"
    path.write_text("version: 1\nsystems:\n- {slug: x, name: X, owner: me, kind: ftp}\n")
    err = StringIO()
    with pytest.raises(CommandError, match="Nothing imported"):
        call_command("import_datamap", str(path), stdout=StringIO(), stderr=err)
    assert "x: unknown kind 'ftp'" in err.getvalue()


def test_import_with_prune_removes_columns_the_file_no_longer_lists(datamap_baseline):
    datamap_import(shipped_map())
    data = shipped_map()
    accounts = data["systems"][0]["tables"][1]
    accounts["columns"] = [c for c in accounts["columns"] if c["name"] != "role"]

    kept = datamap_import(data)
    assert kept.not_in_file == ["studio-platform.accounts.role"]
    assert MappedColumn.objects.filter(table__table_name="accounts", name="role").exists()

    pruned = datamap_import(data, prune=True)
    assert pruned.removed == 1
    assert not MappedColumn.objects.filter(table__table_name="accounts", name="role").exists()


# -- validation on save -------------------------------------------------------------------------


@pytest.fixture
def system(datamap_baseline):
    datamap_import(shipped_map())
    return SystemOfRecord.objects.get(slug="studio-platform")


def test_a_table_missing_from_the_database_is_refused_with_its_name(system):
    table = MappedTable(system=system, table_name="customer_notes")
    with pytest.raises(ValidationError) as error:
        table.full_clean()
    assert "customer_notes" in str(error.value)


def test_table_and_column_names_carrying_sql_are_refused(system):
    for name in ['accounts"; DROP TABLE accounts; --', "accounts; DELETE FROM accounts"]:
        with pytest.raises(ValidationError) as error:
            MappedTable(system=system, table_name=name).full_clean()
        assert "does not exist" in str(error.value)
    accounts = system.tables.get(table_name="accounts")
    with pytest.raises(ValidationError, match="does not exist"):
        MappedColumn(table=accounts, name='email" FROM accounts --', not_personal=True).full_clean()
    with pytest.raises(ValidationError, match="does not exist"):
        MappedTable(
            system=system, table_name="invoices", subject_column="id) OR (1=1", subject_key="account_id"
        ).clean()


def test_missing_columns_of_a_table_are_refused_with_their_names(system):
    accounts = system.tables.get(table_name="accounts")
    accounts.subject_column = "account_number"
    accounts.restriction_flag_column = "email"
    with pytest.raises(ValidationError) as error:
        accounts.full_clean()
    assert "account_number" in str(error.value.message_dict["subject_column"])
    assert "not a boolean" in str(error.value.message_dict["restriction_flag_column"])
    column = MappedColumn(table=accounts, name="favourite_colour", not_personal=True)
    with pytest.raises(ValidationError) as error:
        column.full_clean()
    assert "favourite_colour" in str(error.value)


def test_a_database_alias_missing_from_settings_is_refused_with_its_name(system):
    other = SystemOfRecord(name="CRM", slug="crm", owner="Sales", kind="sql", database_alias="crm")
    with pytest.raises(ValidationError) as error:
        other.full_clean()
    assert "'crm'" in str(error.value)


def test_a_join_path_that_does_not_reach_the_subject_is_refused(system):
    organisations = system.tables.get(table_name="organisations")
    organisations.subject_column, organisations.subject_key = "", ""  # a table that identifies nobody
    messages = system.tables.get(table_name="support_messages")
    messages.parent = organisations
    messages.parent_column = "ticket_id"
    with pytest.raises(ValidationError, match="does not reach a table that identifies the subject"):
        messages.full_clean()


def test_a_join_path_that_loops_is_refused(system):
    prompts = system.tables.get(table_name="prompts")
    requests = system.tables.get(table_name="api_requests")
    requests.subject_column, requests.subject_key = "", ""
    requests.parent, requests.parent_column = prompts, "id"
    with pytest.raises(ValidationError, match="loops back"):
        requests.full_clean()


def test_a_treatment_the_column_cannot_take_is_refused(system):
    accounts = system.tables.get(table_name="accounts")
    email = accounts.columns.get(name="email")
    email.treatment = ColumnTreatment.NULL
    with pytest.raises(ValidationError, match="cannot be null"):
        email.full_clean()
    role = accounts.columns.get(name="role")  # varchar(20)
    role.treatment = ColumnTreatment.HASH
    with pytest.raises(ValidationError, match="holds 20 characters"):
        role.full_clean()
    created = accounts.columns.get(name="created_at")
    created.treatment = ColumnTreatment.REDACT
    with pytest.raises(ValidationError, match="not a text column"):
        created.full_clean()
    name = accounts.columns.get(name="name")
    name.is_timestamp = True
    with pytest.raises(ValidationError, match="not a date or timestamp"):
        name.full_clean()


# -- audit ----------------------------------------------------------------------------------------


def test_datamap_audit_passes_on_the_shipped_map_against_the_platform_database(system):
    out = StringIO()
    call_command("datamap_audit", stdout=out)
    assert "no problems" in out.getvalue()


def test_datamap_audit_fails_with_one_line_per_problem(system):
    with connections["platform"].cursor() as cursor:
        cursor.execute("ALTER TABLE accounts ADD COLUMN nickname varchar(50) NULL")
    MappedColumn.objects.filter(table__table_name="invoices", name="billing_address").delete()
    MappedColumn.objects.filter(table__table_name="api_keys", name="name").update(
        data_category=None, not_personal=False
    )
    MappedColumn.objects.filter(table__table_name="api_requests", name="status_code").update(name="http_status")
    MappedTable.objects.create(system=system, table_name="legacy_users")
    MappedColumn.objects.filter(table__table_name="accounts", name="email").update(treatment=ColumnTreatment.NULL)
    out = StringIO()

    with pytest.raises(CommandError, match="7 problem"):
        call_command("datamap_audit", stdout=out)

    assert out.getvalue().splitlines() == [
        "studio-platform.accounts.email: Column 'email' cannot be null: choose another treatment.",
        "studio-platform.accounts.nickname: column is not in the data map (unclassified).",
        "studio-platform.api_keys.name: column is not classified (no data category, not marked not personal).",
        "studio-platform.api_requests.http_status: column in the map does not exist in the database.",
        "studio-platform.api_requests.status_code: column is not in the data map (unclassified).",
        "studio-platform.invoices.billing_address: column is not in the data map (unclassified).",
        "studio-platform.legacy_users: table does not exist in database alias 'platform'.",
    ]


def test_import_columns_from_schema_adds_new_columns_unclassified_and_flagged(system):
    with connections["platform"].cursor() as cursor:
        cursor.execute("ALTER TABLE accounts ADD COLUMN phone varchar(30) NULL")
        cursor.execute("ALTER TABLE accounts ADD COLUMN verified_at timestamp with time zone NULL")
    accounts = system.tables.get(table_name="accounts")

    added = mapped_table_import_columns(table=accounts)

    assert added == ["phone", "verified_at"]
    phone = accounts.columns.get(name="phone")
    assert phone.needs_review and not phone.is_classified and phone.treatment == ColumnTreatment.KEEP
    assert accounts.columns.get(name="verified_at").is_timestamp
    assert datamap_audit(systems=SystemOfRecord.objects.filter(pk=system.pk)) == [
        "studio-platform.accounts.phone: column is not classified (no data category, not marked not personal).",
        "studio-platform.accounts.verified_at: column is not classified (no data category, not marked not personal).",
    ]
    assert mapped_table_import_columns(table=accounts) == []


def test_audit_reports_a_system_whose_alias_is_gone_in_one_line(system):
    SystemOfRecord.objects.filter(pk=system.pk).update(database_alias="billing")
    assert datamap_audit() == ["studio-platform: No database alias 'billing' in settings."]


def test_webhook_and_manual_systems_are_not_audited(system):
    SystemOfRecord.objects.create(name="Desk", slug="desk", owner="Support", kind="manual")
    assert datamap_audit() == []
