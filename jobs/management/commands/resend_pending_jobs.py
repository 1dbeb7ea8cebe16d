from datetime import timedelta

from django.core.management.base import BaseCommand

from jobs.models import PendingJob
from jobs.services import pending_jobs_resend


class Command(BaseCommand):
    help = "Hand to the broker the jobs saved while it was down (what beat's resend job does every minute)."

    def add_arguments(self, parser):
        parser.add_argument(
            "--all", action="store_true", help="Also jobs saved in the last JOBS_RESEND_AFTER_SECONDS seconds."
        )

    def handle(self, *args, all: bool, **options):
        sent = pending_jobs_resend(older_than=timedelta(0) if all else None)
        left = PendingJob.objects.filter(sent_at__isnull=True).count()
        self.stdout.write(f"sent: {sent}, still pending: {left}")
