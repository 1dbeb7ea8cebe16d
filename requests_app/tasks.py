"""Thin Celery tasks: ids in, the service re-reads and skips work already done."""

from smtplib import SMTPException

from celery import shared_task
from django.db import OperationalError


@shared_task(
    bind=True,
    acks_late=True,
    autoretry_for=(OperationalError, SMTPException, ConnectionError),
    retry_backoff=True,
    max_retries=8,
)
def communication_deliver_task(self, communication_id: int) -> None:
    from requests_app.services import communication_deliver, communication_delivery_fail

    try:
        communication_deliver(communication_id=communication_id)
    except (SMTPException, ConnectionError) as exc:
        if self.request.retries < self.max_retries:
            raise  # retried with backoff
        # Out of retries: the letter failed for good; say so on the request rather than leave it "queued".
        attempts = self.max_retries + 1
        communication_delivery_fail(
            communication_id=communication_id,
            reason=f"The mail server could not be reached after {attempts} attempts ({type(exc).__name__}).",
        )


@shared_task(
    bind=True,
    acks_late=True,
    autoretry_for=(OperationalError, SMTPException, ConnectionError),
    retry_backoff=True,
    max_retries=5,
)
def letter_failed_alert_task(self, communication_id: int) -> None:
    from requests_app.services import letter_failed_alert

    letter_failed_alert(communication_id=communication_id)


@shared_task(bind=True, acks_late=True, autoretry_for=(OperationalError,), retry_backoff=True, max_retries=5)
def rights_requests_digest_task(self) -> None:
    from requests_app.services import digests_send

    digests_send()


@shared_task(bind=True, acks_late=True, autoretry_for=(OperationalError,), retry_backoff=True, max_retries=5)
def rights_requests_escalate_task(self) -> None:
    from requests_app.services import escalations_send

    escalations_send()


@shared_task(bind=True, acks_late=True, autoretry_for=(OperationalError,), retry_backoff=True, max_retries=5)
def identity_reminders_task(self) -> None:
    from requests_app.services import identity_reminders_send

    identity_reminders_send()


@shared_task(bind=True, acks_late=True, autoretry_for=(OperationalError,), retry_backoff=True, max_retries=5)
def paused_deadlines_refresh_task(self) -> None:
    from requests_app.services import paused_deadlines_refresh

    paused_deadlines_refresh()
