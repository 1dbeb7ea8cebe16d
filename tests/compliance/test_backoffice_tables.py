"""The back office's own secrets are never in the data map: every route an officer could take is refused.

On the back office's database (alias ``default``) only its request-handling records may be mapped
(``compliance.backoffice``). Each route is tried as a compliance officer over HTTP (admin add form, the
column inline, "Import columns from schema" on tables and systems, moving a system onto ``default``, a
retention rule) or through the management command (the YAML import); a row that reached the map some
other way is refused by the connector. The shipped back-office map keeps working.
"""

from io import StringIO
from pathlib import Path

import pytest
import yaml
from django.contrib.messages import get_messages
from django.core.management import CommandError, call_command
from django.urls import reverse
from django.utils import timezone

from compliance.backoffice import BACKOFFICE_MAPPABLE_TABLES, BACKOFFICE_UNMAPPED_TABLES, is_backoffice_alias
from compliance.connectors import ConnectorError, Subject, get_connector
from compliance.datamap import datamap_audit, datamap_import_file
from compliance.models import DataCategory, LegalBasis, MappedColumn, MappedTable, Regime, SystemOfRecord
from retention.demo import BACKOFFICE_MAP, DEFAULT_SCHEDULE
from retention.models import RetentionRule

pytestmark = pytest.mark.django_db(databases=["default", "platform"])

# One table of each kind of secret the back office keeps: credentials, sessions, second-factor devices,
# recovery codes, API token hashes, lockout records, the outbox, the beat schedule, the access audit.
SECRET_TABLES = [
    "auth_user",
    "django_session",
    "otp_totp_totpdevice",
    "otp_static_staticdevice",
    "otp_static_statictoken",
    "requests_app_apiclient",
    "axes_accessattempt",
    "jobs_pendingjob",
    "django_celery_beat_periodictask",
    "security_accessevent",
    "fulfilment_downloadlink",
]
INLINE_EMPTY = {
    "columns-TOTAL_FORMS": "0",
    "columns-INITIAL_FORMS": "0",
    "columns-MIN_NUM_FORMS": "0",
    "columns-MAX_NUM_FORMS": "1000",
}


@pytest.fixture
def back_office(baseline) -> SystemOfRecord:
    return SystemOfRecord.objects.create(
        name="Back office", slug="back-office", owner="Privacy team", kind="sql", database_alias="default"
    )


@pytest.fixture
def smuggled(back_office) -> MappedTable:
    """``auth_user`` in the map, put there past every check (a raw insert, an old release, a restored backup)."""
    table = MappedTable.objects.create(
        system=back_office, table_name="auth_user", subject_column="email", subject_key="email"
    )
    identity = DataCategory.objects.get(slug="account-identity")
    for name in ["email", "password", "username"]:
        MappedColumn.objects.create(table=table, name=name, data_category=identity)
    MappedColumn.objects.create(table=table, name="last_login", not_personal=True, is_timestamp=True)
    return table


def _messages(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


def test_the_shipped_back_office_map_names_only_mappable_tables():
    """Whoever adds a table to the shipped map must add it to the list, in the same release."""
    shipped = {table["name"] for table in yaml.safe_load(Path(BACKOFFICE_MAP).read_text())["systems"][0]["tables"]}
    assert shipped == BACKOFFICE_MAPPABLE_TABLES


def _our_tables() -> set[str]:
    """Every table of the back office's own apps (the sample platform lives in another database).

    Installed libraries are not ours, even when the virtualenv sits inside the checkout (as in CI's clean clone).
    """
    import sys

    from django.apps import apps
    from django.conf import settings

    base, environment = Path(settings.BASE_DIR).resolve(), Path(sys.prefix).resolve()
    return {
        model._meta.db_table
        for config in apps.get_app_configs()
        if Path(config.path).resolve().is_relative_to(base)
        and not Path(config.path).resolve().is_relative_to(environment)
        and config.label != "sample_platform"
        for model in config.get_models(include_auto_created=True)
    }


def test_every_table_of_our_apps_is_in_the_map_or_says_why_not():
    """A new model's table (appeals, the regimes of a request, ...) cannot stay out of every sweep unnoticed."""
    tables = _our_tables()
    assert "requests_app_appeal" in tables and "requests_app_requestregime" in tables
    unclassified = tables - BACKOFFICE_MAPPABLE_TABLES - set(BACKOFFICE_UNMAPPED_TABLES)
    assert unclassified == set(), "map these in retention/backoffice_datamap.yaml or say why not"
    assert not BACKOFFICE_MAPPABLE_TABLES & set(BACKOFFICE_UNMAPPED_TABLES)
    assert set(BACKOFFICE_UNMAPPED_TABLES) <= tables, "a reason for a table that no longer exists"
    assert {"requests_app_appeal", "requests_app_historicalappeal", "requests_app_requestregime"} <= (
        BACKOFFICE_MAPPABLE_TABLES
    )
    # The five that held a requester's email, account or free text without a rule are mapped now (issue 14).
    assert PERSONAL_RECORDS_OF_HANDLING <= BACKOFFICE_MAPPABLE_TABLES
    assert not PERSONAL_RECORDS_OF_HANDLING & set(BACKOFFICE_UNMAPPED_TABLES)


# Back-office tables holding a requester's email, account, keyed hashes or free text that were once left out.
PERSONAL_RECORDS_OF_HANDLING = {
    "compliance_manualtask",
    "compliance_historicalmanualtask",
    "retention_legalhold",
    "retention_historicallegalhold",
    "fulfilment_erasureledgerentry",
    "fulfilment_fulfilmentstep",
    "fulfilment_historicalfulfilmentstep",
    "requests_app_idempotencyrecord",
}


def test_every_personal_table_of_the_shipped_back_office_map_has_a_default_rule():
    shipped = yaml.safe_load(Path(BACKOFFICE_MAP).read_text())["systems"][0]["tables"]
    personal = {t["name"] for t in shipped if any(column.get("category") for column in t["columns"])}
    assert {"requests_app_appeal", "requests_app_historicalappeal", "requests_app_rightsrequest"} <= personal
    assert personal >= PERSONAL_RECORDS_OF_HANDLING
    ruled = {rule.table for rule in DEFAULT_SCHEDULE if rule.system == "studio-backoffice"}
    assert personal - ruled == set()
    # Each rule says why its period (the reason is part of the rule, shown in the admin and the matrix).
    for rule in DEFAULT_SCHEDULE:
        if rule.table in PERSONAL_RECORDS_OF_HANDLING:
            assert len(rule.justification) > 80, rule.name


def test_a_second_alias_of_the_back_office_database_counts_as_the_back_office(settings):
    assert is_backoffice_alias("default")
    assert not is_backoffice_alias("platform") and not is_backoffice_alias("platform_sqlite")


@pytest.mark.parametrize("table_name", SECRET_TABLES)
def test_the_admin_refuses_to_map_a_secret_table_of_the_back_office(client, officer, back_office, table_name):
    client.force_login(officer)
    response = client.post(
        reverse("admin:compliance_mappedtable_add"),
        {"system": back_office.pk, "table_name": table_name, "primary_key": "id", **INLINE_EMPTY},
    )
    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert "can never be mapped, exported, erased or swept" in str(errors["table_name"])
    assert not MappedTable.objects.filter(table_name=table_name).exists()


def test_the_admin_refuses_auth_user_with_its_email_as_the_subject_column(client, officer, back_office):
    client.force_login(officer)
    response = client.post(
        reverse("admin:compliance_mappedtable_add"),
        {
            "system": back_office.pk,
            "table_name": "auth_user",
            "primary_key": "id",
            "subject_column": "email",
            "subject_key": "email",
            **INLINE_EMPTY,
            "columns-TOTAL_FORMS": "1",
            "columns-0-name": "password",
            "columns-0-treatment": "keep",
            "columns-0-data_category": DataCategory.objects.get(slug="account-identity").pk,
        },
    )
    assert response.status_code == 200
    assert "auth_user" in str(response.context["adminform"].form.errors["table_name"])
    assert not MappedTable.objects.exists() and not MappedColumn.objects.exists()


def test_the_admin_maps_a_request_handling_table_of_the_back_office(client, officer, back_office):
    client.force_login(officer)
    response = client.post(
        reverse("admin:compliance_mappedtable_add"),
        {
            "system": back_office.pk,
            "table_name": "requests_app_rightsrequest",
            "primary_key": "id",
            "subject_column": "requester_email",
            "subject_key": "email",
            **INLINE_EMPTY,
        },
    )
    assert response.status_code == 302, response.context["adminform"].form.errors
    assert MappedTable.objects.filter(system=back_office, table_name="requests_app_rightsrequest").exists()


def test_no_column_can_be_added_to_a_secret_table_in_the_admin(client, officer, smuggled):
    client.force_login(officer)
    response = client.post(
        reverse("admin:compliance_mappedtable_change", args=[smuggled.pk]),
        {
            "system": smuggled.system_id,
            "table_name": "auth_user",
            "primary_key": "id",
            "subject_column": "email",
            "subject_key": "email",
            **INLINE_EMPTY,
            "columns-TOTAL_FORMS": "1",
            "columns-0-name": "first_name",
            "columns-0-treatment": "keep",
            "columns-0-not_personal": "on",
        },
    )
    assert response.status_code == 200
    assert not MappedColumn.objects.filter(table=smuggled, name="first_name").exists()


@pytest.mark.parametrize("changelist", ["mappedtable", "systemofrecord"])
def test_import_columns_from_schema_refuses_a_secret_table(client, officer, back_office, changelist):
    table = MappedTable.objects.create(system=back_office, table_name="otp_totp_totpdevice")
    selected = table.pk if changelist == "mappedtable" else back_office.pk
    client.force_login(officer)

    response = client.post(
        reverse(f"admin:compliance_{changelist}_changelist"),
        {"action": "import_columns_from_schema", "_selected_action": [selected]},
        follow=True,
    )

    assert any("can never be mapped, exported, erased or swept" in m for m in _messages(response))
    assert not MappedColumn.objects.filter(table=table).exists()  # the TOTP key column never entered the map


def test_import_columns_from_schema_fills_a_request_handling_table(client, officer, back_office):
    table = MappedTable.objects.create(
        system=back_office, table_name="requests_app_requestnote", primary_key="id", parent=None
    )
    client.force_login(officer)
    response = client.post(
        reverse("admin:compliance_mappedtable_changelist"),
        {"action": "import_columns_from_schema", "_selected_action": [table.pk]},
        follow=True,
    )
    assert "unclassified and flagged for review" in _messages(response)[0]
    assert MappedColumn.objects.filter(table=table, name="body").exists()


def test_a_system_holding_a_secret_table_cannot_be_moved_onto_the_back_office_database(client, officer, baseline):
    platform = SystemOfRecord.objects.create(
        name="Somewhere", slug="somewhere", owner="Ops", kind="sql", database_alias="platform"
    )
    MappedTable.objects.create(system=platform, table_name="auth_user")  # not a table there: harmless until moved
    client.force_login(officer)
    data = {
        "name": "Somewhere",
        "slug": "somewhere",
        "owner": "Ops",
        "kind": "sql",
        "database_alias": "default",
        "is_active": "on",
        "reviewed_tables-TOTAL_FORMS": "0",
        "reviewed_tables-INITIAL_FORMS": "0",
    }
    response = client.post(reverse("admin:compliance_systemofrecord_change", args=[platform.pk]), data)
    assert response.status_code == 200
    assert "auth_user" in str(response.context["adminform"].form.errors["database_alias"])
    platform.refresh_from_db()
    assert platform.database_alias == "platform"

    MappedTable.objects.filter(system=platform).update(table_name="requests_app_rightsrequest")
    response = client.post(reverse("admin:compliance_systemofrecord_change", args=[platform.pk]), data)
    assert response.status_code == 302
    platform.refresh_from_db()
    assert platform.database_alias == "default"


def _write_map(tmp_path, tables: list[dict]) -> Path:
    path = tmp_path / "map.yaml"
    system = {"slug": "back-office", "name": "Back office", "owner": "Privacy", "kind": "sql"}
    path.write_text(
        yaml.safe_dump({"version": 1, "systems": [{**system, "database_alias": "default", "tables": tables}]})
    )
    return path


def test_the_yaml_import_command_refuses_secret_tables_and_imports_nothing(baseline, tmp_path):
    path = _write_map(
        tmp_path,
        [
            {
                "name": "requests_app_rightsrequest",
                "subject_column": "requester_email",
                "subject_key": "email",
                "columns": [{"name": "requester_email", "category": "account-identity", "treatment": "hash"}],
            },
            {
                "name": "auth_user",
                "subject_column": "email",
                "subject_key": "email",
                "columns": [{"name": "password", "category": "account-identity"}],
            },
            {
                "name": "otp_totp_totpdevice",
                "parent": "auth_user",
                "parent_column": "user_id",
                "columns": [{"name": "key", "category": "account-identity"}],
            },
        ],
    )
    err = StringIO()
    with pytest.raises(CommandError, match="Nothing imported"):
        call_command("import_datamap", str(path), stdout=StringIO(), stderr=err)
    assert "back-office.auth_user: table_name: Table 'auth_user' is one of the back office's own tables" in (
        err.getvalue()
    )
    assert "otp_totp_totpdevice" in err.getvalue()
    assert not SystemOfRecord.objects.filter(slug="back-office").exists()
    assert not MappedTable.objects.exists()


def test_the_yaml_import_command_imports_the_shipped_back_office_map(baseline):
    out = StringIO()
    call_command("import_datamap", str(BACKOFFICE_MAP), stdout=out)
    assert "Data map imported" in out.getvalue()
    names = set(MappedTable.objects.filter(system__slug="studio-backoffice").values_list("table_name", flat=True))
    assert names == BACKOFFICE_MAPPABLE_TABLES
    assert datamap_audit(systems=SystemOfRecord.objects.filter(slug="studio-backoffice")) == []


def _rule_form(table: MappedTable, column: MappedColumn) -> dict:
    return {
        "name": "Staff accounts: 1 day",
        "data_category": DataCategory.objects.get(slug="account-identity").pk,
        "table": table.pk,
        "is_enabled": "on",
        "trigger": "row_timestamp",
        "trigger_column": column.pk,
        "period": "1",
        "period_unit": "days",
        "period_anchor": "trigger",
        "action": "delete",
        "justification": "x",
        "legal_basis": LegalBasis.objects.get(slug="contract").pk,
        "cadence": "0 1 * * *",
        "batch_size": "5000",
        "approval_threshold": "10000",
        # The inline of per-regime bases (records of requests), left empty.
        "regime_bases-TOTAL_FORMS": "0",
        "regime_bases-INITIAL_FORMS": "0",
    }


def test_a_retention_rule_cannot_point_at_a_secret_table(client, officer, smuggled):
    client.force_login(officer)
    column = MappedColumn.objects.get(table=smuggled, name="last_login")
    response = client.post(reverse("admin:retention_retentionrule_add"), _rule_form(smuggled, column))
    assert response.status_code == 200
    assert "can never be mapped, exported, erased or swept" in response.content.decode()
    assert not RetentionRule.objects.exists()


def test_a_retention_rule_on_a_request_handling_table_is_saved(client, officer, back_office):
    datamap_import_file(BACKOFFICE_MAP)
    table = MappedTable.objects.get(system__slug="studio-backoffice", table_name="requests_app_rightsrequest")
    column = MappedColumn.objects.get(table=table, name="closed_at")
    client.force_login(officer)
    response = client.post(reverse("admin:retention_retentionrule_add"), _rule_form(table, column))
    assert response.status_code == 302
    assert RetentionRule.objects.filter(table=table).exists()


def test_a_smuggled_secret_table_is_never_swept_by_a_smuggled_rule(officer, smuggled):
    """The last line: a rule row inserted past the checks fails its run; not one staff account goes."""
    from retention.services import retention_run_execute, retention_run_start

    rule = RetentionRule.objects.create(
        name="Smuggled",
        data_category=DataCategory.objects.get(slug="account-identity"),
        table=smuggled,
        trigger_column=MappedColumn.objects.get(table=smuggled, name="last_login"),
        period=1,
        period_unit="days",
        action="delete",
        justification="x",
        legal_basis=LegalBasis.objects.get(slug="contract"),
        approval_threshold=1_000_000,
    )
    officer.last_login = officer.date_joined.replace(year=2001)
    officer.save()
    run = retention_run_start(rule_id=rule.pk, enqueue=False)
    if run.status == "queued":
        run = retention_run_execute(run_id=run.pk)
    run.refresh_from_db()
    assert run.status == "failed"
    assert "can never be mapped" in run.error
    assert officer.__class__.objects.filter(pk=officer.pk).exists()


def test_the_connector_refuses_to_locate_or_export_a_smuggled_secret_table(officer, smuggled):
    connector = get_connector(smuggled.system)
    subject = Subject(email=officer.email)
    with pytest.raises(ConnectorError, match="can never be mapped, exported, erased or swept"):
        connector.locate(subject)
    written = []

    class Sink:
        def open_stream(self, table, fmt):  # pragma: no cover - never reached
            written.append(table.table_name)
            raise AssertionError("the connector opened a stream for a secret table")

    with pytest.raises(ConnectorError, match="auth_user"):
        get_connector(smuggled.system).export(subject, Sink())
    assert written == []


def test_the_connector_locates_on_the_shipped_back_office_map(officer, back_office):
    from requests_app.models import RightsRequest

    datamap_import_file(BACKOFFICE_MAP)
    RightsRequest.objects.create(
        reference="DSR-TEST-00001",
        requester_name="Someone",
        requester_email="someone@example.com",
        regime=Regime.objects.get(code="uk_gdpr"),
        received_at=timezone.now(),
    )
    system = SystemOfRecord.objects.get(slug="studio-backoffice")
    counts = {c.table_name: c.rows for c in get_connector(system).locate(Subject(email="someone@example.com"))}
    assert counts["requests_app_rightsrequest"] == 1
