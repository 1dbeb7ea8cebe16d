import os
import subprocess
import sys

import psycopg
import pytest
from django.conf import settings
from django.contrib.auth.models import Group, Permission
from django.core.management.sql import emit_post_migrate_signal

from compliance.roles import (
    AUDITOR,
    COMPLIANCE_OFFICER,
    SUPPORT_AGENT,
    role_specs,
    roles_sync,
    unknown_explicit_patterns,
)
from tests.support.databases import migrated_copy


def test_every_explicit_permission_in_the_role_spec_exists(db):
    assert unknown_explicit_patterns() == []


def test_roles_sync_is_idempotent(db):
    first = roles_sync()
    perms = {g.name: set(g.permissions.values_list("codename", flat=True)) for g in Group.objects.all()}
    assert roles_sync() == first
    assert {g.name: set(g.permissions.values_list("codename", flat=True)) for g in Group.objects.all()} == perms


def test_auditor_only_views_and_support_agent_cannot_edit_registers(db):
    roles_sync()
    auditor = set(Group.objects.get(name=AUDITOR).permissions.values_list("codename", flat=True))
    assert auditor and all(code.startswith("view_") for code in auditor)
    agent = set(Group.objects.get(name=SUPPORT_AGENT).permissions.values_list("content_type__app_label", "codename"))
    assert not any(app in {"subprocessors", "retention"} and not code.startswith("view_") for app, code in agent)
    assert not any(code.startswith("delete_") for _, code in agent)
    officer = Group.objects.get(name=COMPLIANCE_OFFICER).permissions
    assert officer.filter(codename="change_regime").exists()


def _role_permissions() -> dict[str, set[tuple[str, str]]]:
    return {
        group.name: set(group.permissions.values_list("content_type__app_label", "codename"))
        for group in Group.objects.all()
    }


def test_the_signals_migrate_sends_give_the_roles_every_apps_permissions(db):
    """What ``migrate`` does once its migrations are applied, on a database without permissions yet:
    Django creates each app's permissions in that app's turn of ``post_migrate``; the roles must be
    synced after the last app's, not after compliance's (which came before most permissions existed)."""
    Group.objects.all().delete()
    Permission.objects.all().delete()
    emit_post_migrate_signal(verbosity=0, interactive=False, db="default")
    after_migrate = _role_permissions()
    counts = roles_sync()
    assert after_migrate == _role_permissions()
    assert {name: len(perms) for name, perms in after_migrate.items()} == counts
    assert ("fulfilment", "view_fulfilmentplan") in after_migrate[AUDITOR]
    assert ("requests_app", "view_appeal") in after_migrate[SUPPORT_AGENT]


def test_each_app_declares_its_own_roles_permissions():
    specs = {spec.name: spec.patterns for spec in role_specs()}
    assert "requests_app.add_rightsrequest" in specs[SUPPORT_AGENT]  # from requests_app/roles.py
    assert "retention.*" in specs[COMPLIANCE_OFFICER]  # from retention/roles.py
    assert "security.view_accessevent" in specs[AUDITOR]  # from security/roles.py
    assert not any(pattern.startswith("sample_platform.") for patterns in specs.values() for pattern in patterns)


@pytest.mark.fresh_database
@pytest.mark.django_db
def test_migrate_alone_on_a_fresh_database_gives_the_roles_the_permissions_setup_roles_gives():
    """A new, empty database, migrated by ``manage.py migrate`` in its own process, then ``setup_roles``.

    That database is the test databases' template (tests/support/databases.py builds it exactly so, from
    an empty database, for the migrations and code of this run); the test works on a copy of it."""
    query = (
        "SELECT g.name, ct.app_label || '.' || p.codename FROM auth_group g "
        "JOIN auth_group_permissions gp ON gp.group_id = g.id JOIN auth_permission p ON p.id = gp.permission_id "
        "JOIN django_content_type ct ON ct.id = p.content_type_id"
    )

    with migrated_copy("default") as url:

        def roles() -> dict[str, set[str]]:
            with psycopg.connect(url) as fresh:
                found: dict[str, set[str]] = {}
                for group, permission in fresh.execute(query):
                    found.setdefault(group, set()).add(permission)
                return found

        after_migrate = roles()
        env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings.test", "DATABASE_URL": url}
        subprocess.run([sys.executable, "manage.py", "setup_roles"], cwd=settings.BASE_DIR, env=env, check=True)
        after_setup_roles = roles()
    assert after_migrate == after_setup_roles
    assert len(after_migrate[COMPLIANCE_OFFICER]) > 300 and len(after_migrate[SUPPORT_AGENT]) == 15
    assert "fulfilment.approve_fulfilmentplan" in after_migrate[COMPLIANCE_OFFICER]
