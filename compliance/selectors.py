"""Reads of the compliance app that need more than a queryset method."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db.models import QuerySet
from django.utils import timezone
from django_celery_beat.models import PeriodicTask

from compliance.models import WorkerHeartbeat


@dataclass(frozen=True)
class WorkerHealth:
    state: str  # "alive", "stale" or "never"
    last_beat_at: datetime | None
    workers: list[WorkerHeartbeat]
    beat_last_scheduled_at: datetime | None

    @property
    def is_alive(self) -> bool:
        return self.state == "alive"


def worker_health() -> WorkerHealth:
    """Whether the worker loop is alive, judged by the newest heartbeat."""
    workers = list(WorkerHeartbeat.objects.order_by("-last_beat_at")[:20])
    last = workers[0].last_beat_at if workers else None
    stale_after = timedelta(seconds=settings.WORKER_HEARTBEAT_STALE_SECONDS)
    if last is None:
        state = "never"
    elif timezone.now() - last <= stale_after:
        state = "alive"
    else:
        state = "stale"
    beat_task = PeriodicTask.objects.filter(task="compliance.tasks.worker_heartbeat_task").first()
    return WorkerHealth(
        state=state,
        last_beat_at=last,
        workers=workers,
        beat_last_scheduled_at=beat_task.last_run_at if beat_task else None,
    )


PROCESSING_ACTIVITY_HEADER = [
    "Activity",
    "Role",
    "Purpose",
    "Legal basis",
    "Data categories",
    "Data subjects",
    "Recipients",
    "Transfers",
    "Retention",
    "Security measures",
]


def processing_activity_rows(queryset: QuerySet[Any]) -> tuple[list[str], list[list[str]]]:
    """The Art. 30 record as CSV rows. Recipients are whatever app registered them.

    Upper apps (the subprocessor register) relate to ``ProcessingActivity`` under the
    related name ``recipients``; compliance reads it generically so it imports none of them.
    """
    queryset = queryset.select_related("purpose", "legal_basis").prefetch_related("data_categories", "subject_types")
    has_recipients = any(rel.get_accessor_name() == "recipients" for rel in queryset.model._meta.related_objects)
    if has_recipients:
        queryset = queryset.prefetch_related("recipients")
    rows = []
    for activity in queryset:
        recipients = "; ".join(str(r) for r in activity.recipients.all()) if has_recipients else ""
        rows.append(
            [
                activity.name,
                activity.get_role_display(),
                activity.purpose.name,
                f"{activity.legal_basis.name} ({activity.legal_basis.article})",
                "; ".join(c.name for c in activity.data_categories.all()),
                "; ".join(s.name for s in activity.subject_types.all()),
                recipients,
                activity.transfers_note,
                activity.retention_reference,
                activity.security_measures,
            ]
        )
    return PROCESSING_ACTIVITY_HEADER, rows


def regimes_for_requester(*, country: str, region: str = "") -> tuple[list[Any], list[Any]]:
    """The regimes that govern a request (REGULATIONS §1a), before any staff correction.

    Returns the controller's own regimes (``settings.CONTROLLER_REGIMES``: they cover all of its
    processing, wherever the requester lives) and those the requester's country (and US state or
    province) brings in, where the team has set that the law applies to us. The most specific
    (a subdivision's law) comes first.
    """
    from compliance.models import Regime

    active = list(Regime.objects.filter(is_active=True).order_by("code"))
    controller = [r for r in active if r.code in settings.CONTROLLER_REGIMES]
    controller.sort(key=lambda r: settings.CONTROLLER_REGIMES.index(r.code))
    residence = [r for r in active if r.applies_to_us and r not in controller and r.covers(country, region)]
    residence.sort(key=lambda r: (not r.territory_region, r.code))
    return controller, residence
