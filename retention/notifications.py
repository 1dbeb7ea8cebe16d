"""Emails about retention runs (``templates/retention/emails/``): to the rule's owner, or the privacy contact
when it has none.

Messages name the rule and the run and link to the admin; they never carry personal data.
"""

from __future__ import annotations

import logging

from django.conf import settings
from django.urls import reverse

from compliance.emails import email_message

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
    context = {"run": run, "run_url": _run_url(run)}
    email_message("retention/emails/run_failed", context, to=_recipients(run.rule)).send()
    logger.info("retention run %s: failure alert sent", run.pk)


def notify_run_awaiting_approval(*, run_id: int) -> None:
    """Tell the owner a run waits for a compliance officer's approval."""
    from retention.models import RetentionRun

    run = RetentionRun.objects.select_related("rule__owner").get(pk=run_id)
    email_message(
        "retention/emails/run_awaiting_approval", {"run": run, "run_url": _run_url(run)}, to=_recipients(run.rule)
    ).send()
