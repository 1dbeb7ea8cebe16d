"""Periodic jobs: each app lists its own in ``<app>/periodic.py`` as ``PERIODIC_JOBS``.

``manage.py setup_periodic_tasks`` registers all of them with django-celery-beat's
database scheduler, so compliance staff see and change cadences in the admin.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class PeriodicJob:
    """A job beat should run: ``every_seconds`` or a crontab (minute, hour, day_of_week)."""

    name: str
    task: str
    description: str
    every_seconds: int | None = None
    crontab: tuple[str, str, str] | None = None  # (minute, hour, day_of_week)

    def __post_init__(self) -> None:
        if (self.every_seconds is None) == (self.crontab is None):
            raise ValueError(f"{self.name}: give exactly one of every_seconds or crontab")


PERIODIC_JOBS = [
    PeriodicJob(
        name="Worker heartbeat",
        task="compliance.tasks.worker_heartbeat_task",
        description="Proves beat, broker and worker are alive; the admin dashboard shows the last beat.",
        every_seconds=60,
    ),
    PeriodicJob(
        name="Data map: weekly drift check",
        task="compliance.tasks.datamap_drift_check_task",
        description="Samples the mapped columns marked not personal and flags those whose values now look "
        "personal (dashboard, officers' digest).",
        crontab=("30", "5", "1"),
    ),
]
