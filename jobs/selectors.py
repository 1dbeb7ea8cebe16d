"""Reads of the outbox."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import Count, Min
from django.utils import timezone

from jobs.models import PendingJob


@dataclass(frozen=True)
class OutboxState:
    waiting: int
    oldest_created_at: datetime | None


def outbox_state() -> OutboxState:
    """Jobs the broker has not taken although their on-commit send should have happened."""
    cutoff = timezone.now() - timedelta(seconds=settings.JOBS_RESEND_AFTER_SECONDS)
    stats = PendingJob.objects.filter(sent_at__isnull=True, created_at__lte=cutoff).aggregate(
        waiting=Count("pk"), oldest=Min("created_at")
    )
    return OutboxState(waiting=stats["waiting"], oldest_created_at=stats["oldest"])
