"""Re-apply recorded erasures after a database restore: ``manage.py replay_erasures --since 2026-01-01``."""

from __future__ import annotations

import datetime as dt

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from fulfilment.services import erasures_replay


def _since(value: str) -> dt.datetime:
    try:
        day = dt.date.fromisoformat(value)
    except ValueError:
        raise CommandError(f"--since must be a date like 2026-01-31 (got {value!r})") from None
    return timezone.make_aware(dt.datetime.combine(day, dt.time.min))


class Command(BaseCommand):
    help = (
        "Erase again, in every system of record, the subjects the erasure ledger lists as erased since DATE "
        "(after restoring a backup taken before their erasure). Safe to run twice."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--since", required=True, help="Replay erasures recorded on or after this date (YYYY-MM-DD)."
        )
        parser.add_argument("--dry-run", action="store_true", help="Only count the subjects found again.")
        parser.add_argument("--scan-limit", type=int, default=None, help="Subjects to read per system at most.")

    def handle(self, *args, since: str, dry_run: bool, scan_limit: int | None, **options):
        when = _since(since)
        if when > timezone.now():
            raise CommandError("--since is in the future.")
        report = erasures_replay(since=when, dry_run=dry_run, scan_limit=scan_limit)
        if not report.systems:
            self.stdout.write(f"No erasure recorded since {since}.")
            return
        for slug, line in sorted(report.systems.items()):
            if slug in report.skipped:
                self.stdout.write(
                    self.style.WARNING(f"{slug}: {line['entries']} erasures not replayed: {report.skipped[slug]}")
                )
                continue
            verb = "would erase again" if dry_run else "erased again"
            self.stdout.write(
                f"{slug}: {line['entries']} erasures recorded, {line['found']} subjects found again and {verb}"
                + ("" if dry_run else f" ({line['deleted']} rows deleted, {line['masked']} masked)")
            )
        if report.skipped:
            raise CommandError("Some systems could not be replayed; their owners must apply the erasures listed.")
