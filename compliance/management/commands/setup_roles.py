from django.core.management.base import BaseCommand

from compliance.roles import roles_sync


class Command(BaseCommand):
    help = "Create the staff roles (groups) and set their permissions. Safe to run again."

    def handle(self, *args, **options):
        for name, count in roles_sync().items():
            self.stdout.write(f"{name}: {count} permissions")
