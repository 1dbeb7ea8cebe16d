from django.contrib.auth.models import Group

from compliance.roles import AUDITOR, COMPLIANCE_OFFICER, SUPPORT_AGENT, roles_sync, unknown_explicit_patterns


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
