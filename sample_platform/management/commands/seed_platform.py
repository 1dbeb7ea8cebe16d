import time
from datetime import UTC, datetime

from django.core.management.base import BaseCommand, CommandError
from django.db import connections

from sample_platform.seed import seed_platform


def _anchor(value: str) -> datetime:
    try:
        return datetime.strptime(value, "%Y-%m-%d").replace(tzinfo=UTC)
    except ValueError:
        raise CommandError("--anchor must be a date like 2026-01-31") from None


class Command(BaseCommand):
    help = (
        "Fill the sample Studio platform database with realistic, reproducible data "
        "(accounts, keys, wallet, invoices, API requests, prompts and outputs, support, website events)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--accounts", type=int, required=True, help="Accounts to add.")
        parser.add_argument("--requests-per-account", type=int, required=True, help="API requests per account.")
        parser.add_argument("--seed", type=int, default=1, help="Random seed: same seed, same data (default 1).")
        parser.add_argument("--anchor", type=_anchor, help="'Now' of the data, YYYY-MM-DD (default: now).")
        parser.add_argument("--years", type=int, default=4, help="How many years of history (default 4).")
        parser.add_argument("--database", default="platform", help="Database alias (default: platform).")
        parser.add_argument("--reset", action="store_true", help="Remove every existing platform row first.")

    def handle(self, *args, **options):
        if options["database"] not in connections:
            raise CommandError(f"No database alias {options['database']!r} in settings.")
        if options["accounts"] < 0 or options["requests_per_account"] < 0:
            raise CommandError("--accounts and --requests-per-account must not be negative.")
        if options["years"] < 1:
            raise CommandError("--years must be at least 1.")
        started = time.perf_counter()
        counts = seed_platform(
            accounts=options["accounts"],
            requests_per_account=options["requests_per_account"],
            seed=options["seed"],
            anchor=options["anchor"],
            years=options["years"],
            using=options["database"],
            reset=options["reset"],
            progress=lambda message: self.stdout.write(f"  {message}"),
        )
        elapsed = time.perf_counter() - started
        for table, rows in counts.rows.items():
            self.stdout.write(f"{table:>22}: {rows:,}")
        self.stdout.write(self.style.SUCCESS(f"{counts.total:,} rows in {elapsed:.1f} s"))
