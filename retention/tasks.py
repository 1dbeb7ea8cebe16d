"""Beat and worker entry points of retention: thin, ids in, the services do the work."""

from __future__ import annotations

from typing import Any

from celery import shared_task
from django.db import OperationalError

from compliance.connectors import ConnectorUnavailable

MAX_RETRIES = 5
# Emails: a database or mail server that is down or refuses (smtplib's errors are OSErrors) is retried.
_EMAIL_RETRY: dict[str, Any] = {
    "autoretry_for": (OperationalError, OSError),
    "retry_backoff": True,
    "max_retries": MAX_RETRIES,
}


@shared_task(bind=True, acks_late=True, ignore_result=True)
def retention_rule_start_task(self, rule_id: int) -> None:
    """Beat starts a rule on its cadence: count, then queue or wait for approval."""
    from retention.models import RetentionRule
    from retention.services import retention_run_start

    if not RetentionRule.objects.filter(pk=rule_id).exists():
        return  # the rule was deleted after beat read its schedule
    retention_run_start(rule_id=rule_id, origin="schedule")


@shared_task(bind=True, acks_late=True, ignore_result=True, max_retries=None)
def retention_run_execute_task(self, run_id: int, resume: bool = False) -> None:
    """Sweep a run from its checkpoint. Redelivered after a crash, it resumes; a duplicate waits its turn.

    A lost database connection fails the run cleanly; the retry (``resume``) queues it again first.
    """
    from retention.services import RunLeaseHeld, retention_run_execute
    from retention.services.runs import retention_run_resume

    try:
        if resume:
            retention_run_resume(run_id=run_id, enqueue=False)
        retention_run_execute(run_id=run_id)
    except RunLeaseHeld as held:
        raise self.retry(countdown=held.retry_in) from None
    except (OperationalError, ConnectorUnavailable) as exc:
        if self.request.retries >= MAX_RETRIES:
            from retention.services.runs import retention_run_fail_unreachable

            retention_run_fail_unreachable(run_id=run_id)
            return
        countdown = 2 ** (self.request.retries + 2)
        raise self.retry(exc=exc, countdown=countdown, kwargs={"run_id": run_id, "resume": True}) from None


@shared_task(bind=True, acks_late=True, ignore_result=True)
def retention_runs_resume_stalled_task(self) -> None:
    """Queue again the runs whose worker died (its lease went stale)."""
    from retention.services import retention_runs_resume_stalled

    retention_runs_resume_stalled()


@shared_task(bind=True, acks_late=True, ignore_result=True, **_EMAIL_RETRY)
def retention_run_failed_notify_task(self, run_id: int) -> None:
    """Email the rule's owner that a run failed (a mail server that is down is retried)."""
    from retention.notifications import notify_run_failed

    notify_run_failed(run_id=run_id)


@shared_task(bind=True, acks_late=True, ignore_result=True, **_EMAIL_RETRY)
def retention_run_awaiting_approval_notify_task(self, run_id: int) -> None:
    """Email the rule's owner that a run waits for a compliance officer's approval."""
    from retention.notifications import notify_run_awaiting_approval

    notify_run_awaiting_approval(run_id=run_id)
