"""Reminders before a DPA review or an attestation expiry, and the weekly digest of what is due.

Each reminder is recorded per (item, due date, threshold) before it is sent, so a
rerun sends nothing twice and a missed day is caught up the next day; a due date
moved by a renewal starts a fresh set of reminders.
"""

from __future__ import annotations

import logging
from datetime import date, timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from compliance.emails import email_message
from compliance.roles import COMPLIANCE_OFFICER
from subprocessors.emails import absolute_url
from subprocessors.models import ExpiryReminder, RegisterDigest, Subprocessor
from subprocessors.selectors import current_attestations, current_dpas, due_items

logger = logging.getLogger(__name__)


def compliance_team_emails() -> list[str]:
    """Addresses of active compliance officers, or the privacy contact when there are none."""
    emails = sorted(
        {
            email
            for email in get_user_model()
            .objects.filter(is_active=True, groups__name=COMPLIANCE_OFFICER)
            .exclude(email="")
            .values_list("email", flat=True)
        }
    )
    return emails or [settings.PRIVACY_CONTACT_EMAIL]


def owner_emails(subprocessor: Subprocessor) -> list[str]:
    """The vendor's internal owner, or the compliance team when it has none."""
    owner = subprocessor.internal_owner
    if owner is not None and owner.is_active and owner.email:
        return [owner.email]
    return compliance_team_emails()


def applicable_threshold(days_left: int, thresholds: list[int]) -> int | None:
    """The reminder due ``days_left`` days before the date: the closest threshold already reached.

    With thresholds 60 and 30: 60..31 days left → 60, 30..0 → 30, more than 60 or
    past the date → none (the digest lists overdue items every week).
    """
    if days_left < 0:
        return None
    reached = [t for t in thresholds if days_left <= t]
    return min(reached) if reached else None


def expiry_reminders_send(*, today: date | None = None) -> dict[str, int]:
    """The daily beat job: remind owners ahead of DPA reviews and attestation expiries."""
    today = today or timezone.localdate()
    thresholds = sorted(set(settings.SUBPROCESSOR_REMINDER_DAYS), reverse=True)
    horizon = today + timedelta(days=max(thresholds))
    outcome = {"sent": 0, "failed": 0}
    jobs = []
    for dpa in current_dpas().filter(review_on__gte=today, review_on__lte=horizon):
        jobs.append(
            {
                "kind": ExpiryReminder.Kind.DPA_REVIEW,
                "target": {"dpa": dpa},
                "due_on": dpa.review_on,
                "subprocessor": dpa.subprocessor,
                "context": {"item": f"DPA version {dpa.version}", "what": "review"},
            }
        )
    for att in current_attestations().filter(expires_on__gte=today, expires_on__lte=horizon):
        jobs.append(
            {
                "kind": ExpiryReminder.Kind.ATTESTATION_EXPIRY,
                "target": {"attestation": att},
                "due_on": att.expires_on,
                "subprocessor": att.subprocessor,
                "context": {"item": att.get_kind_display(), "what": "expiry"},
            }
        )
    for job in jobs:
        threshold = applicable_threshold((job["due_on"] - today).days, thresholds)
        if threshold is None:
            continue
        try:
            sent = _remind(**job, threshold=threshold, today=today)
        except Exception as exc:  # one bad address must not hold back the other reminders
            logger.warning("reminder for subprocessor %s failed: %s", job["subprocessor"].pk, type(exc).__name__)
            outcome["failed"] += 1
            continue
        outcome["sent"] += int(sent)
    return outcome


@transaction.atomic
def _remind(
    *,
    kind: str,
    target: dict[str, Any],
    due_on: date,
    threshold: int,
    subprocessor: Subprocessor,
    context: dict[str, Any],
    today: date,
) -> bool:
    ExpiryReminder.objects.bulk_create(
        [ExpiryReminder(kind=kind, due_on=due_on, threshold_days=threshold, **target)], ignore_conflicts=True
    )
    reminder = (
        ExpiryReminder.objects.select_for_update(skip_locked=True)
        .filter(due_on=due_on, threshold_days=threshold, sent_at__isnull=True, **target)
        .first()
    )
    if reminder is None:
        return False
    recipients = owner_emails(subprocessor)
    admin_path = reverse("admin:subprocessors_subprocessor_change", args=[subprocessor.pk])
    email_message(
        "subprocessors/email/expiry_reminder",
        {
            **context,
            "subprocessor": subprocessor,
            "due_on": due_on,
            "days_left": (due_on - today).days,
            "admin_url": absolute_url(admin_path),
        },
        to=recipients,
    ).send()
    reminder.sent_at = timezone.now()
    reminder.recipient_count = len(recipients)
    reminder.save(update_fields=["sent_at", "recipient_count"])
    return True


@transaction.atomic
def register_digest_send(*, today: date | None = None) -> RegisterDigest | None:
    """The weekly beat job: one digest per ISO week to the compliance team; None if already sent."""
    today = today or timezone.localdate()
    week_start = today - timedelta(days=today.weekday())
    RegisterDigest.objects.bulk_create([RegisterDigest(week_start=week_start)], ignore_conflicts=True)
    digest = (
        RegisterDigest.objects.select_for_update(skip_locked=True)
        .filter(week_start=week_start, sent_at__isnull=True)
        .first()
    )
    if digest is None:
        return None
    items = due_items(today=today)
    recipients = compliance_team_emails()
    email_message(
        "subprocessors/email/weekly_digest",
        {
            "due": items,
            "week_start": week_start,
            "admin_url": absolute_url(reverse("admin:subprocessors_subprocessor_changelist")),
            "transfer_report_url": absolute_url(reverse("admin:subprocessors_subprocessor_transfer_report")),
        },
        to=recipients,
    ).send()
    digest.sent_at = timezone.now()
    digest.recipient_count = len(recipients)
    digest.item_count = items.count
    digest.save(update_fields=["sent_at", "recipient_count", "item_count"])
    return digest
