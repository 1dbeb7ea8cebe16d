"""Retention's periodic jobs. Each rule has its own beat entry too, made by the rule services."""

from compliance.periodic import PeriodicJob

PERIODIC_JOBS = [
    PeriodicJob(
        name="Retention: resume stalled runs",
        task="retention.tasks.retention_runs_resume_stalled_task",
        description="Queues again the retention runs whose worker died mid-sweep, so they resume from their "
        "checkpoint.",
        every_seconds=300,
    ),
]
