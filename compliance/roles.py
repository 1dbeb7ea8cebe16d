"""The three staff roles, as Django groups with permissions, kept in step idempotently.

The spec is data, and each app owns its part: ``<app>/roles.py`` declares
``ROLE_PERMISSIONS``, a dict from role name to permission patterns
``app_label.codename``, where the codename may be ``*`` (every permission of the
app) or start with ``view_``/``add_``... followed by ``*``. They are found the way
``periodic.py`` is (every installed app, in INSTALLED_APPS order), so an app adds
or changes its roles' permissions without touching this module.
``tests/compliance/test_roles.py`` checks every explicit codename exists, so a typo
cannot silently drop a permission.

The roles are complete after every ``migrate`` (see ``sync_roles_after_migrate``)
and after ``manage.py setup_roles``.
"""

from __future__ import annotations

import fnmatch
import importlib
from dataclasses import dataclass, field

from django.apps import apps
from django.contrib.auth.models import Group, Permission
from django.db import transaction

COMPLIANCE_OFFICER = "Compliance officer"
SUPPORT_AGENT = "Support agent"
AUDITOR = "Auditor"
ROLES = (COMPLIANCE_OFFICER, AUDITOR, SUPPORT_AGENT)

# This app's part, and what belongs to no app of ours: staff accounts (read only) and beat's schedules,
# which compliance sets up (``periodic_tasks_setup``).
ROLE_PERMISSIONS: dict[str, list[str]] = {
    COMPLIANCE_OFFICER: ["compliance.*", "django_celery_beat.*", "auth.view_user", "auth.view_group"],
    AUDITOR: ["compliance.view_*", "django_celery_beat.view_*", "auth.view_user", "auth.view_group"],
    SUPPORT_AGENT: [
        # Reference data the intake form shows.
        "compliance.view_regime",
        "compliance.view_right",
        "compliance.view_subjecttype",
        "compliance.view_workerheartbeat",
    ],
}


@dataclass(frozen=True)
class RoleSpec:
    name: str
    patterns: list[str] = field(default_factory=list)


def role_specs() -> list[RoleSpec]:
    """Every app's ``roles.ROLE_PERMISSIONS``, merged per role, in INSTALLED_APPS order."""
    patterns: dict[str, list[str]] = {name: [] for name in ROLES}
    for config in apps.get_app_configs():
        try:
            module = importlib.import_module(f"{config.name}.roles")
        except ModuleNotFoundError as exc:
            if exc.name != f"{config.name}.roles":
                raise
            continue
        for role, app_patterns in getattr(module, "ROLE_PERMISSIONS", {}).items():
            if role not in patterns:
                raise ValueError(f"{config.name}.roles names a role that does not exist: {role!r}")
            patterns[role].extend(app_patterns)
    return [RoleSpec(name, patterns[name]) for name in ROLES]


def _matching_permissions(pattern: str, permissions: list[Permission]) -> list[Permission]:
    app_label, codename = pattern.split(".", 1)
    return [
        perm
        for perm in permissions
        if perm.content_type.app_label == app_label and fnmatch.fnmatchcase(perm.codename, codename)
    ]


def unknown_explicit_patterns() -> list[str]:
    """Explicit (wildcard-free) permissions in the spec that do not exist."""
    permissions = list(Permission.objects.select_related("content_type"))
    return [
        pattern
        for spec in role_specs()
        for pattern in spec.patterns
        if "*" not in pattern and not _matching_permissions(pattern, permissions)
    ]


@transaction.atomic
def roles_sync() -> dict[str, int]:
    """Create the groups and set exactly the permissions of the spec. Idempotent."""
    permissions = list(Permission.objects.select_related("content_type"))
    counts = {}
    for spec in role_specs():
        group, _ = Group.objects.get_or_create(name=spec.name)
        wanted = {perm.pk for pattern in spec.patterns for perm in _matching_permissions(pattern, permissions)}
        current = set(group.permissions.values_list("pk", flat=True))
        if wanted != current:
            group.permissions.set(wanted)
        counts[spec.name] = len(wanted)
    return counts


def sync_roles_after_migrate(sender, using="default", **kwargs) -> None:
    """Bring the roles in step at the end of every ``migrate`` of the back office's database.

    ``post_migrate`` is sent once per app, in INSTALLED_APPS order, and Django creates each app's
    permissions in its own turn: only the last app's signal comes after every permission exists
    (an earlier one would give the roles the permissions of the apps before it only).
    """
    if using != "default" or sender is not _last_migrated_app():
        return
    roles_sync()


def _last_migrated_app():
    # The apps post_migrate is sent for: those with a models module (emit_post_migrate_signal).
    return [config for config in apps.get_app_configs() if config.models_module is not None][-1]
