"""Beat jobs of the fulfilment workers (registered by ``manage.py setup_periodic_tasks``)."""

from compliance.periodic import PeriodicJob

PERIODIC_JOBS = [
    PeriodicJob(
        name="Purge expired export bundles",
        task="fulfilment.tasks.bundles_purge_task",
        description="Deletes export bundle files past their expiry; the bundle record stays, marked purged.",
        crontab=("15", "*", "*"),
    ),
    PeriodicJob(
        name="Remind recipients of unconfirmed Art. 19 notices",
        task="fulfilment.tasks.notices_remind_task",
        description="Reminds subprocessors that have not confirmed an erasure, rectification or restriction "
        "notice, and retries notices that could not be sent.",
        crontab=("0", "9", "*"),
    ),
    PeriodicJob(
        name="Check fulfilment steps waiting on people or remote systems",
        task="fulfilment.tasks.waiting_steps_poll_task",
        description="Runs again the steps waiting on a manual task or a webhook job, which finish once the "
        "task is marked done or the job reports its result.",
        every_seconds=600,
    ),
]
