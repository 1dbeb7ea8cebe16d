"""Everything the demo needs, in order, safe to run again."""

import importlib
import secrets

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management import call_command
from django.core.management.base import BaseCommand

from compliance.roles import AUDITOR, COMPLIANCE_OFFICER, SUPPORT_AGENT, roles_sync
from compliance.services import periodic_tasks_setup, policy_baseline_load

DEMO_USERS = [
    ("admin", None, True),
    ("officer", COMPLIANCE_OFFICER, False),
    ("agent", SUPPORT_AGENT, False),
    ("auditor", AUDITOR, False),
]


class Command(BaseCommand):
    help = "Load the policy baseline, roles, periodic jobs, demo logins and every app's demo data."

    def handle(self, *args, **options):
        policy_baseline_load()
        roles_sync()
        periodic_tasks_setup()
        password = self._demo_password()
        User = get_user_model()
        for username, group, superuser in DEMO_USERS:
            user, created = User.objects.get_or_create(
                username=username,
                defaults={"is_staff": True, "is_superuser": superuser, "email": f"{username}@studio.example"},
            )
            if created:
                user.set_password(password)
                user.save()
            if group:
                user.groups.add(Group.objects.get(name=group))
        for path in settings.DEMO_STEPS:
            module_name, func_name = path.rsplit(".", 1)
            module = importlib.import_module(module_name)
            getattr(module, func_name)(stdout=self.stdout)
        call_command("setup_roles", stdout=self.stdout)
        self.stdout.write(self.style.SUCCESS(f"Demo ready at {settings.SITE_URL}/admin/"))
        self.stdout.write(f"  superuser: admin / {password}")
        self.stdout.write(f"  compliance officer: officer / {password}")
        self.stdout.write(f"  support agent: agent / {password}")
        self.stdout.write(f"  auditor: auditor / {password}")

    def _demo_password(self) -> str:
        # One password for the demo logins, made once per installation and kept
        # under var/ so running the command again prints the same login.
        path = settings.VAR_DIR / "demo-password.txt"
        if path.exists():
            return path.read_text().strip()
        password = "demo-" + secrets.token_urlsafe(9)
        path.write_text(password + "\n")
        path.chmod(0o600)
        return password
