"""The test databases are clones of templates ``manage.py migrate`` built (tests/support/databases.py)."""

import os
import shutil
import subprocess
import sys

import psycopg
import pytest
from django.apps import apps
from django.core.management import call_command
from django.core.management.color import no_style
from django.db import connections, router
from django.db.migrations.executor import MigrationExecutor

from tests.support.databases import (
    RUN_ID,
    TEMPLATES_LOCK_KEY,
    Template,
    compute_fingerprint,
    database_url,
    ensure_templates,
    template_fingerprint,
    templates_lock,
    unmigrated_apps_with_models,
)
from tests.support.factories import RightsRequestFactory


@pytest.mark.django_db(databases=["default", "platform", "platform_sqlite"])
@pytest.mark.parametrize("alias", ["default", "platform", "platform_sqlite"])
def test_each_test_database_has_every_migration_applied_and_its_own_tables(alias):
    connection = connections[alias]
    executor = MigrationExecutor(connection)
    assert executor.migration_plan(executor.loader.graph.leaf_nodes()) == []
    assert executor.loader.applied_migrations.keys() == executor.loader.disk_migrations.keys()
    tables = set(connection.introspection.table_names())
    platform_tables = {model._meta.db_table for model in apps.get_app_config("sample_platform").get_models()}
    if alias == "platform":
        assert platform_tables <= tables and "auth_user" not in tables
    elif alias == "default":
        assert "auth_user" in tables and not platform_tables & tables
    else:  # migrations create nothing on it (the router); its tests create the platform's tables
        assert "auth_user" not in tables and "django_migrations" in tables


@pytest.mark.django_db
def test_the_test_database_is_a_copy_named_for_this_process_never_the_template():
    name = connections["default"].settings_dict["NAME"]
    assert name.startswith("test_") and "_tpl_" not in name
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    assert name.endswith(f"_{worker}") if worker else not name.endswith("_gw0")


@pytest.mark.django_db(databases=["default", "platform"])
@pytest.mark.parametrize("alias", ["default", "platform"])
def test_sessions_on_the_test_databases_commit_without_waiting_for_the_disk(alias):
    with connections[alias].cursor() as cursor:
        cursor.execute("SHOW synchronous_commit")
        assert cursor.fetchone()[0] == "off"


def test_every_app_with_models_has_migrations_so_migrate_alone_makes_every_table():
    assert unmigrated_apps_with_models() == []


def test_a_changed_setting_changes_the_fingerprint(settings):
    before = compute_fingerprint()
    settings.EU_GDPR_HOLIDAY_COUNTRY = "FR" if settings.EU_GDPR_HOLIDAY_COUNTRY != "FR" else "DE"
    assert compute_fingerprint() != before


def test_a_changed_migration_or_app_module_changes_the_fingerprint(tmp_path, settings, monkeypatch):
    """The compliance app copied under another project folder: its fingerprint moves when one of its
    migrations changes, and again when its roles module (run by ``post_migrate``) changes."""
    copy = tmp_path / "compliance"
    shutil.copytree(apps.get_app_config("compliance").path, copy, ignore=shutil.ignore_patterns("__pycache__"))
    monkeypatch.setattr(apps.get_app_config("compliance"), "path", str(copy))
    settings.BASE_DIR = tmp_path
    first = compute_fingerprint()
    assert compute_fingerprint() == first

    with (copy / "migrations" / "0001_initial.py").open("a") as migration:
        migration.write("\n# changed\n")
    second = compute_fingerprint()
    with (copy / "roles.py").open("a") as roles:
        roles.write("\n# changed\n")
    third = compute_fingerprint()

    assert len({first, second, third}) == 3


def test_the_fingerprint_hashes_our_apps_code_never_an_installed_librarys_inside_the_checkout(
    tmp_path, settings, monkeypatch
):
    """CI's clean clone has the virtualenv inside the checkout: Django's own apps then sit under BASE_DIR.
    Their migrations count (they are migrated); the rest of the library does not."""
    environment = tmp_path / ".venv"
    admin = environment / "lib" / "django" / "contrib" / "admin"
    shutil.copytree(apps.get_app_config("admin").path, admin, ignore=shutil.ignore_patterns("__pycache__", "static"))
    monkeypatch.setattr(apps.get_app_config("admin"), "path", str(admin))
    monkeypatch.setattr(sys, "prefix", str(environment))
    settings.BASE_DIR = tmp_path
    first = compute_fingerprint()

    with (admin / "sites.py").open("a") as module:
        module.write("\n# changed\n")
    assert compute_fingerprint() == first
    with (admin / "migrations" / "0001_initial.py").open("a") as migration:
        migration.write("\n# changed\n")
    assert compute_fingerprint() != first


def test_another_test_process_computes_the_same_fingerprint():
    """Each xdist process has its own broker database, cache prefix and test database names; none of
    that may change the fingerprint, or the processes would build (and drop) each other's templates."""
    code = (
        "import django; django.setup(); from django.test.utils import setup_test_environment; "
        "setup_test_environment(); from tests.support.databases import compute_fingerprint; "
        "print(compute_fingerprint())"
    )
    env = {
        **os.environ,
        "PYTEST_XDIST_WORKER": "gw7",
        "TEST_BROKER_WORKER": "",
        "CACHE_KEY_PREFIX": "another-process",
        "DJANGO_SETTINGS_MODULE": "config.settings.test",
    }
    from django.conf import settings

    output = subprocess.run(
        [sys.executable, "-c", code], cwd=settings.BASE_DIR, env=env, capture_output=True, text=True, check=True
    )
    assert output.stdout.strip() == template_fingerprint()


@pytest.mark.django_db
def test_a_stale_template_is_dropped_and_the_current_one_kept_closed_to_connections():
    current = Template("default", template_fingerprint())
    stale = Template("default", "000000000000")
    with connections["default"].creation._nodb_cursor() as cursor:
        cursor.execute(f'DROP DATABASE IF EXISTS "{stale.name}"')
        cursor.execute(f'CREATE DATABASE "{stale.name}"')
    with templates_lock():
        ensure_templates(["default"])
    assert current.exists() and not stale.exists()
    with connections["default"].creation._nodb_cursor() as cursor:
        cursor.execute("SELECT datistemplate, datallowconn FROM pg_database WHERE datname = %s", [current.name])
        assert cursor.fetchone() == (True, False)


@pytest.mark.django_db
def test_create_db_rebuilds_a_template_only_if_another_run_built_it():
    template = Template("default", "0000000000ff")
    quoted = connections["default"].ops.quote_name(template.name)
    with connections["default"].creation._nodb_cursor() as cursor:
        cursor.execute(f"DROP DATABASE IF EXISTS {quoted}")
        cursor.execute(f"CREATE DATABASE {quoted}")
        try:
            cursor.execute(f"COMMENT ON DATABASE {quoted} IS 'an earlier run'")
            assert not template.built_by_this_run()
            cursor.execute(f"COMMENT ON DATABASE {quoted} IS %s", [RUN_ID])
            assert template.built_by_this_run()
        finally:
            cursor.execute(f"DROP DATABASE {quoted}")


@pytest.mark.django_db
def test_one_test_process_at_a_time_holds_the_templates_lock():
    def try_lock() -> bool:
        with psycopg.connect(database_url("default", "postgres"), autocommit=True) as other:
            (taken,) = other.execute("SELECT pg_try_advisory_lock(%s)", [TEMPLATES_LOCK_KEY]).fetchone()
            return taken

    with templates_lock():
        assert not try_lock()
    assert try_lock()


def _tables_with_rows() -> list[str]:
    return [
        model._meta.label
        for model in apps.get_models(include_auto_created=True)
        if model._meta.managed and not model._meta.proxy and router.allow_migrate_model("default", model)
        if model._base_manager.using("default").exists()
    ]


@pytest.mark.django_db(transaction=True)
def test_the_flush_after_a_transactional_test_empties_every_table_rows_referencing_each_other_included(officer, agent):
    RightsRequestFactory(rights=["access", "erasure"], actor=agent, verified_by=officer)
    filled = _tables_with_rows()
    assert {"auth.User", "auth.Group_permissions", "requests_app.RightsRequest", "requests_app.RequestLine"} <= set(
        filled
    )
    flush_sql = connections["default"].ops.sql_flush(no_style(), ["auth_user", "auth_group"])
    assert flush_sql and not any("TRUNCATE" in statement for statement in flush_sql)

    call_command("flush", verbosity=0, interactive=False, reset_sequences=False, inhibit_post_migrate=True)

    assert _tables_with_rows() == []
