"""Writes of the compliance app."""

from __future__ import annotations

import importlib
from typing import Any

from django.apps import apps
from django.db import models, transaction
from django.db.models import F
from django.utils import timezone
from django_celery_beat.models import CrontabSchedule, IntervalSchedule, PeriodicTask

from compliance.models import WorkerHeartbeat
from compliance.periodic import PeriodicJob


def worker_heartbeat_record(*, worker: str) -> WorkerHeartbeat:
    """Record that ``worker`` ran the heartbeat job now."""
    now = timezone.now()
    with transaction.atomic():
        heartbeat, created = WorkerHeartbeat.objects.get_or_create(
            worker=worker, defaults={"last_beat_at": now, "beats": 1}
        )
        if not created:
            WorkerHeartbeat.objects.filter(pk=heartbeat.pk).update(last_beat_at=now, beats=F("beats") + 1)
            heartbeat.refresh_from_db()
    return heartbeat


def all_periodic_jobs() -> list[PeriodicJob]:
    """Every app's ``periodic.PERIODIC_JOBS``, in INSTALLED_APPS order."""
    jobs: list[PeriodicJob] = []
    for config in apps.get_app_configs():
        try:
            module = importlib.import_module(f"{config.name}.periodic")
        except ModuleNotFoundError as exc:
            if exc.name != f"{config.name}.periodic":
                raise
            continue
        jobs.extend(getattr(module, "PERIODIC_JOBS", []))
    return jobs


def _schedule_for(job: PeriodicJob) -> dict[str, Any]:
    if job.every_seconds is not None:
        interval, _ = IntervalSchedule.objects.get_or_create(every=job.every_seconds, period=IntervalSchedule.SECONDS)
        return {"interval": interval, "crontab": None}
    minute, hour, day_of_week = job.crontab  # type: ignore[misc]
    crontab, _ = CrontabSchedule.objects.get_or_create(
        minute=minute,
        hour=hour,
        day_of_week=day_of_week,
        day_of_month="*",
        month_of_year="*",
        timezone=timezone.get_default_timezone_name(),
    )
    return {"crontab": crontab, "interval": None}


@transaction.atomic
def periodic_tasks_setup(*, reset: bool = False) -> dict[str, list[str]]:
    """Register every periodic job with beat. Idempotent.

    A job that already exists keeps the cadence and enabled flag staff may have
    changed in the admin, unless ``reset`` is set.
    """
    outcome: dict[str, list[str]] = {"created": [], "reset": [], "unchanged": []}
    for job in all_periodic_jobs():
        existing = PeriodicTask.objects.filter(name=job.name).first()
        if existing is None:
            PeriodicTask.objects.create(name=job.name, task=job.task, description=job.description, **_schedule_for(job))
            outcome["created"].append(job.name)
        elif reset or existing.task != job.task:
            for key, value in {
                "task": job.task,
                "description": job.description,
                "enabled": True,
                **_schedule_for(job),
            }.items():
                setattr(existing, key, value)
            existing.save()
            outcome["reset"].append(job.name)
        else:
            outcome["unchanged"].append(job.name)
    return outcome


def _upsert(
    model: type[models.Model], lookup: dict[str, Any], values: dict[str, Any], *, update: bool, counts: dict[str, int]
) -> Any:
    """Create a row if missing; change an existing one only when ``update`` and it differs.

    Saving only on a real difference keeps the second run silent: no write and no
    history row.
    """
    obj = model.objects.filter(**lookup).first()
    if obj is None:
        obj = model.objects.create(**lookup, **values)
        counts["created"] += 1
        return obj
    if update:
        changed = [key for key, value in values.items() if getattr(obj, key) != value]
        if changed:
            for key in changed:
                setattr(obj, key, values[key])
            obj.save()
            counts["updated"] += 1
            return obj
    counts["unchanged"] += 1
    return obj


@transaction.atomic
def policy_baseline_load(*, update: bool = False) -> dict[str, int]:
    """Load the taxonomy and regimes of ``compliance.baseline``. Idempotent.

    Existing rows are left as staff corrected them unless ``update`` is set.
    Many-to-many sets (a regime's rights, an activity's categories) are only
    filled for rows this call created, or reset with ``update``.
    """
    from compliance import baseline
    from compliance.models import (
        DataCategory,
        LegalBasis,
        ProcessingActivity,
        ProcessingPurpose,
        Regime,
        RegimeRight,
        Right,
        SubjectType,
    )

    counts = {"created": 0, "updated": 0, "unchanged": 0}
    for order, entry in enumerate(baseline.DATA_CATEGORIES):
        values = {k: v for k, v in entry.items() if k != "slug"}
        _upsert(DataCategory, {"slug": entry["slug"]}, {**values, "display_order": order}, update=update, counts=counts)
    for order, (slug, name, description) in enumerate(baseline.PURPOSES):
        _upsert(
            ProcessingPurpose,
            {"slug": slug},
            {"name": name, "description": description, "policy_section": "§3", "display_order": order},
            update=update,
            counts=counts,
        )
    for order, (slug, name, article, description) in enumerate(baseline.LEGAL_BASES):
        _upsert(
            LegalBasis,
            {"slug": slug},
            {
                "name": name,
                "article": article,
                "description": description,
                "policy_section": "§4",
                "display_order": order,
            },
            update=update,
            counts=counts,
        )
    for order, (slug, name, description) in enumerate(baseline.SUBJECT_TYPES):
        _upsert(
            SubjectType,
            {"slug": slug},
            {"name": name, "description": description, "policy_section": "§1", "display_order": order},
            update=update,
            counts=counts,
        )
    for order, (slug, name, description) in enumerate(baseline.RIGHTS):
        _upsert(
            Right,
            {"slug": slug},
            {
                "name": name,
                "description": description,
                "how_to_use": baseline.HOW_TO_USE.get(slug, ""),
                "policy_section": "§9",
                "display_order": order,
            },
            update=update,
            counts=counts,
        )

    rights = {right.slug: right for right in Right.objects.all()}
    for entry in baseline.REGIMES:
        # A callable value is read at load time (a setting, e.g. the EU holiday calendar).
        values = {k: v() if callable(v) else v for k, v in entry.items() if k not in {"code", "rights"}}
        before = counts["created"]
        regime = _upsert(Regime, {"code": entry["code"]}, values, update=update, counts=counts)
        if counts["created"] > before or update:
            for slug, overrides in entry["rights"]:
                _upsert(
                    RegimeRight,
                    {"regime": regime, "right": rights[slug]},
                    {
                        "response_period": overrides.get("response_period"),
                        "response_unit": overrides.get("response_unit", ""),
                        "identity_verification_allowed": overrides.get("identity_verification_allowed", True),
                        "clarification_pauses_clock": overrides.get("clarification_pauses_clock", False),
                        "notes": overrides.get("notes", ""),
                    },
                    update=update,
                    counts=counts,
                )

    categories = {c.slug: c for c in DataCategory.objects.all()}
    subject_types = {s.slug: s for s in SubjectType.objects.all()}
    for entry in baseline.PROCESSING_ACTIVITIES:
        before = counts["created"]
        activity = _upsert(
            ProcessingActivity,
            {"name": entry["name"]},
            {
                "purpose": ProcessingPurpose.objects.get(slug=entry["purpose"]),
                "legal_basis": LegalBasis.objects.get(slug=entry["legal_basis"]),
                "retention_reference": entry["retention_reference"],
            },
            update=update,
            counts=counts,
        )
        if counts["created"] > before or update:
            wanted_categories = {categories[slug].pk for slug in entry["data_categories"]}
            if set(activity.data_categories.values_list("pk", flat=True)) != wanted_categories:
                activity.data_categories.set(wanted_categories)
            wanted_types = {subject_types[slug].pk for slug in entry["subject_types"]}
            if set(activity.subject_types.values_list("pk", flat=True)) != wanted_types:
                activity.subject_types.set(wanted_types)
    return counts
