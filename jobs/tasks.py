"""Beat's outbox jobs: resend what the broker did not take, forget what it took long ago."""

from celery import shared_task
from django.db import OperationalError


@shared_task(bind=True, acks_late=True, autoretry_for=(OperationalError,), retry_backoff=True, max_retries=3)
def pending_jobs_resend_task(self) -> None:
    from jobs.services import pending_jobs_resend

    pending_jobs_resend()


@shared_task(bind=True, acks_late=True, autoretry_for=(OperationalError,), retry_backoff=True, max_retries=3)
def sent_jobs_purge_task(self) -> None:
    from jobs.services import sent_jobs_purge

    sent_jobs_purge()
