"""Beat's security jobs."""

from celery import shared_task
from django.db import OperationalError


@shared_task(bind=True, acks_late=True, autoretry_for=(OperationalError,), retry_backoff=True, max_retries=3)
def expired_sessions_clear_task(self) -> None:
    from security.services import expired_sessions_clear

    expired_sessions_clear()
