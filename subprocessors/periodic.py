"""Beat jobs of the subprocessor register (registered by ``manage.py setup_periodic_tasks``)."""

from compliance.periodic import PeriodicJob

PERIODIC_JOBS = [
    PeriodicJob(
        name="Subprocessors: make due changes effective",
        task="subprocessors.tasks.changes_activate_due_task",
        description="Announced changes whose effective date has come take effect unless an objection is open.",
        crontab=("5", "*", "*"),
    ),
    PeriodicJob(
        name="Subprocessors: send pending change notices",
        task="subprocessors.tasks.change_notices_send_pending_task",
        description="Emails announced changes to subscribers who have not had them (new subscribers, retries).",
        every_seconds=15 * 60,
    ),
    PeriodicJob(
        name="Subprocessors: DPA review and attestation reminders",
        task="subprocessors.tasks.expiry_reminders_send_task",
        description="Reminds owners 60 and 30 days (SUBPROCESSOR_REMINDER_DAYS) before a review or expiry.",
        crontab=("0", "7", "*"),
    ),
    PeriodicJob(
        name="Subprocessors: weekly digest",
        task="subprocessors.tasks.register_digest_send_task",
        description="Monday digest to compliance officers of reviews, expiries, changes and objections due.",
        crontab=("30", "7", "1"),
    ),
    PeriodicJob(
        name="Subprocessors: purge unconfirmed subscriptions",
        task="subprocessors.tasks.subscribers_purge_unconfirmed_task",
        description="Deletes notice subscriptions never confirmed once their confirmation link has expired.",
        crontab=("20", "3", "*"),
    ),
]
