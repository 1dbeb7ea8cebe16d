from django.core.management.base import BaseCommand

from compliance.services import periodic_tasks_setup


class Command(BaseCommand):
    help = "Register every app's periodic jobs with beat's database scheduler. Safe to run again."

    def add_arguments(self, parser):
        parser.add_argument(
            "--reset", action="store_true", help="Reset cadences and enabled flags changed in the admin."
        )

    def handle(self, *args, reset: bool, **options):
        outcome = periodic_tasks_setup(reset=reset)
        for state in ("created", "reset", "unchanged"):
            for name in outcome[state]:
                self.stdout.write(f"{state:>9}: {name}")
