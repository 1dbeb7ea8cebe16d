"""Thin Celery tasks: ids in; the service re-reads, locks and skips work already done."""

from typing import Any

from celery import shared_task
from django.db import OperationalError

_RETRY: dict[str, Any] = {"autoretry_for": (OperationalError,), "retry_backoff": True, "max_retries": 5}
# Emails: a mail server that is down or refuses (smtplib's errors are OSErrors) is retried too.
_EMAIL_RETRY: dict[str, Any] = {**_RETRY, "autoretry_for": (OperationalError, OSError)}


@shared_task(bind=True, acks_late=True, **_RETRY)
def locate_step_task(self, step_id: int) -> None:
    from fulfilment.services import locate_step_run

    locate_step_run(step_id=step_id)


@shared_task(bind=True, acks_late=True, **_RETRY)
def export_system_task(self, bundle_id: int, system_id: int) -> None:
    from fulfilment.services import export_system_run

    export_system_run(bundle_id=bundle_id, system_id=system_id)


@shared_task(bind=True, acks_late=True, **_RETRY)
def bundle_assemble_task(self, bundle_id: int) -> None:
    from fulfilment.services import bundle_assemble

    bundle_assemble(bundle_id=bundle_id)


@shared_task(bind=True, acks_late=True, **_RETRY)
def change_step_task(self, step_id: int) -> None:
    from fulfilment.services import change_step_run

    change_step_run(step_id=step_id)


@shared_task(bind=True, acks_late=True, **_RETRY)
def notice_send_task(self, notice_id: int) -> None:
    from fulfilment.services import notice_send

    notice_send(notice_id=notice_id)


@shared_task(bind=True, acks_late=True, **_RETRY)
def bundles_purge_task(self) -> None:
    from fulfilment.services import bundles_purge_expired

    bundles_purge_expired()


@shared_task(bind=True, acks_late=True, **_RETRY)
def notices_remind_task(self) -> None:
    from fulfilment.services import notices_remind

    notices_remind()


@shared_task(bind=True, acks_late=True, **_RETRY)
def waiting_steps_poll_task(self) -> None:
    from fulfilment.services.plans import waiting_steps_poll

    waiting_steps_poll()


@shared_task(bind=True, acks_late=True, **_EMAIL_RETRY)
def download_code_deliver_task(self, link_id: int, request_number: int | None = None) -> None:
    from fulfilment.services.exports import download_code_deliver

    download_code_deliver(link_id=link_id, request_number=request_number)


@shared_task(bind=True, acks_late=True, **_RETRY)
def stalled_work_resume_task(self) -> None:
    from fulfilment.services.stalls import stalled_work_resume

    stalled_work_resume()
