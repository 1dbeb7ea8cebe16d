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
    PeriodicJob(
        name="Resume stalled fulfilment work",
        task="fulfilment.tasks.stalled_work_resume_task",
        description="Queues again the steps, exports and bundle assemblies whose worker stopped renewing its "
        "lease or whose job was lost (a broker restart), and completes plans and bundles whose work is all done "
        "but whose completion was never recorded.",
        every_seconds=60,
    ),
]
