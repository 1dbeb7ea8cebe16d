"""Thin Celery tasks: ids in, the service re-reads and skips work already done."""

from typing import Any

from celery import shared_task
from django.db import OperationalError

_RETRY: dict[str, Any] = {"autoretry_for": (OperationalError,), "retry_backoff": True, "max_retries": 5}
# Emails: a mail server that is down or refuses (smtplib's errors are OSErrors) is retried too.
_EMAIL_RETRY: dict[str, Any] = {**_RETRY, "autoretry_for": (OperationalError, OSError)}


@shared_task(bind=True, acks_late=True, ignore_result=True, **_RETRY)
def change_notices_send_task(self, change_id: int) -> None:
    from subprocessors.services.notices import change_notices_send

    change_notices_send(change_id=change_id)


@shared_task(bind=True, acks_late=True, ignore_result=True, **_RETRY)
def change_withdrawal_notices_send_task(self, change_id: int) -> None:
    from subprocessors.services.notices import change_withdrawal_notices_send

    change_withdrawal_notices_send(change_id=change_id)


@shared_task(bind=True, acks_late=True, ignore_result=True, **_RETRY)
def change_notices_send_pending_task(self) -> None:
    from subprocessors.services.notices import change_notices_send_pending

    change_notices_send_pending()


@shared_task(bind=True, acks_late=True, ignore_result=True, **_EMAIL_RETRY)
def subscriber_confirmation_send_task(self, subscriber_id: int) -> None:
    from subprocessors.services.subscribers import notice_subscriber_confirmation_send

    notice_subscriber_confirmation_send(subscriber_id=subscriber_id)


@shared_task(bind=True, acks_late=True, ignore_result=True, **_RETRY)
def changes_activate_due_task(self) -> None:
    from subprocessors.services.changes import subprocessor_changes_activate_due

    subprocessor_changes_activate_due()


@shared_task(bind=True, acks_late=True, ignore_result=True, **_RETRY)
def expiry_reminders_send_task(self) -> None:
    from subprocessors.services.reminders import expiry_reminders_send

    expiry_reminders_send()


@shared_task(bind=True, acks_late=True, ignore_result=True, **_RETRY)
def register_digest_send_task(self) -> None:
    from subprocessors.services.reminders import register_digest_send

    register_digest_send()


@shared_task(bind=True, acks_late=True, ignore_result=True, **_RETRY)
def subscribers_purge_unconfirmed_task(self) -> None:
    from subprocessors.services.subscribers import notice_subscribers_purge_unconfirmed

    notice_subscribers_purge_unconfirmed()
