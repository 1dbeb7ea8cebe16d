from django.core.management.base import BaseCommand

from compliance.services import policy_baseline_load


class Command(BaseCommand):
    help = "Load the policy baseline (taxonomy, regimes, processing activities). Safe to run again."

    def add_arguments(self, parser):
        parser.add_argument(
            "--update", action="store_true", help="Reset existing rows to the shipped values (overwrites edits)."
        )

    def handle(self, *args, update: bool, **options):
        counts = policy_baseline_load(update=update)
        self.stdout.write(
            f"Policy baseline: {counts['created']} created, {counts['updated']} updated, "
            f"{counts['unchanged']} unchanged."
        )
