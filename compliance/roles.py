"""The three staff roles, as Django groups with permissions, kept in step idempotently.

The spec is data: each role lists permission patterns ``app_label.codename``
where the codename may be ``*`` (every permission of the app) or start with
``view_``/``add_``... followed by ``*``. Apps add their models' permissions by
editing the lists below; ``tests/compliance/test_roles.py`` checks every
explicit codename exists, so a typo cannot silently drop a permission.
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass, field

from django.contrib.auth.models import Group, Permission
from django.db import transaction

COMPLIANCE_OFFICER = "Compliance officer"
SUPPORT_AGENT = "Support agent"
AUDITOR = "Auditor"

# The apps whose records staff work on.
BACK_OFFICE_APPS = [
    "compliance",
    "jobs",
    "subprocessors",
    "retention",
    "requests_app",
    "fulfilment",
    "django_celery_beat",
]


@dataclass(frozen=True)
class RoleSpec:
    name: str
    patterns: list[str] = field(default_factory=list)


ROLE_SPECS: list[RoleSpec] = [
    RoleSpec(
        COMPLIANCE_OFFICER,
        [f"{app}.*" for app in BACK_OFFICE_APPS] + ["auth.view_user", "auth.view_group", "security.view_accessevent"],
    ),
    RoleSpec(
        AUDITOR,
        [f"{app}.view_*" for app in BACK_OFFICE_APPS]
        + ["auth.view_user", "auth.view_group", "security.view_accessevent"],
    ),
    RoleSpec(
        SUPPORT_AGENT,
        [
            # Reference data the intake form shows.
            "compliance.view_regime",
            "compliance.view_right",
            "compliance.view_subjecttype",
            "compliance.view_workerheartbeat",
            # Rights requests: log and read them, send acknowledgement, identity and clarification
            # letters, record ledger events, add notes. Closing, refusing, extending and identity
            # decisions need requests_app.decide_request, which only officers hold.
            "requests_app.add_rightsrequest",
            "requests_app.view_rightsrequest",
            "requests_app.view_requestline",
            "requests_app.add_requestevent",
            "requests_app.view_requestevent",
            "requests_app.add_communication",
            "requests_app.view_communication",
            "requests_app.add_requestnote",
            "requests_app.view_requestnote",
            # Appeals of refusals (REGULATIONS §1b): agents log and read them; officers extend and decide.
            "requests_app.add_appeal",
            "requests_app.view_appeal",
        ],
    ),
]


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
        for spec in ROLE_SPECS
        for pattern in spec.patterns
        if "*" not in pattern and not _matching_permissions(pattern, permissions)
    ]


@transaction.atomic
def roles_sync() -> dict[str, int]:
    """Create the groups and set exactly the permissions of the spec. Idempotent."""
    permissions = list(Permission.objects.select_related("content_type"))
    counts = {}
    for spec in ROLE_SPECS:
        group, _ = Group.objects.get_or_create(name=spec.name)
        wanted = {perm.pk for pattern in spec.patterns for perm in _matching_permissions(pattern, permissions)}
        current = set(group.permissions.values_list("pk", flat=True))
        if wanted != current:
            group.permissions.set(wanted)
        counts[spec.name] = len(wanted)
    return counts


def sync_roles_after_migrate(sender, using="default", **kwargs) -> None:
    # Runs once per migrated app; only the last app's signal sees every permission,
    # but each run is idempotent and cheap, so keeping it simple is fine.
    if using != "default" or sender.name != "compliance":
        return
    roles_sync()
