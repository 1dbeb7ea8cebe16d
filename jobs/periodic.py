"""Beat jobs of the outbox (registered by ``manage.py setup_periodic_tasks``)."""

from compliance.periodic import PeriodicJob

PERIODIC_JOBS = [
    PeriodicJob(
        name="Resend jobs the broker did not take",
        task="jobs.tasks.pending_jobs_resend_task",
        description="Hands to the broker the jobs saved while it was down (letters to deliver, fulfilment steps), "
        "oldest first; the changes that need them were saved already.",
        every_seconds=60,
    ),
    PeriodicJob(
        name="Forget jobs sent long ago",
        task="jobs.tasks.sent_jobs_purge_task",
        description="Deletes the outbox records of jobs the broker accepted more than JOBS_KEEP_SENT_DAYS ago.",
        crontab=("40", "3", "*"),
    ),
]
