"""Emails about retention runs: to the rule's owner, or the privacy contact when it has none.

Messages name the rule and the run and link to the admin; they never carry personal data.
"""

from __future__ import annotations

import logging

from django.conf import settings
from django.core.mail import send_mail
from django.urls import reverse

logger = logging.getLogger(__name__)


def _recipients(rule) -> list[str]:
    if rule.owner_id and rule.owner.email:
        return [rule.owner.email]
    return [settings.PRIVACY_CONTACT_EMAIL]


def _run_url(run) -> str:
    return settings.SITE_URL + reverse("admin:retention_retentionrun_change", args=[run.pk])


def notify_run_failed(*, run_id: int) -> None:
    """Alert the owner that a run failed, with its (PII-free) error."""
    from retention.models import RetentionRun

    run = RetentionRun.objects.select_related("rule__owner").get(pk=run_id)
    send_mail(
        subject=f"Retention run #{run.pk} failed: {run.rule.name}",
        message=(
            f"The retention run #{run.pk} of the rule '{run.rule.name}' failed.\n\n"
            f"{run.error}\n\n"
            f"Rows affected before it stopped: {run.rows_affected}.\n"
            f"Open the run: {_run_url(run)}\n"
        ),
        from_email=settings.DEFAULT_FROM_EMAIL,
        recipient_list=_recipients(run.rule),
        fail_silently=False,
    )
    logger.info("retention run %s: failure alert sent", run.pk)


def notify_run_awaiting_approval(*, run_id: int) -> None:
    """Tell the owner a run waits for a compliance officer's approval."""
    from retention.models import RetentionRun

    run = RetentionRun.objects.select_related("rule__owner").get(pk=run_id)
    send_mail(
        subject=f"Retention run #{run.pk} awaits approval: {run.rule.name}",
        message=(
            f"The retention run #{run.pk} of the rule '{run.rule.name}' would affect {run.rows_to_affect} rows, "
            f"more than the rule's approval threshold of {run.rule.approval_threshold}.\n\n"
            f"A compliance officer approves or cancels it here: {_run_url(run)}\n"
        ),
        from_email=settings.DEFAULT_FROM_EMAIL,
        recipient_list=_recipients(run.rule),
        fail_silently=False,
    )
