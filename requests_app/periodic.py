"""The rights-request jobs beat runs (registered by ``manage.py setup_periodic_tasks``)."""

from compliance.periodic import PeriodicJob

PERIODIC_JOBS = [
    PeriodicJob(
        name="Rights requests: refresh paused deadlines",
        task="requests_app.tasks.paused_deadlines_refresh_task",
        description="Moves the due date of requests whose clock a clarification pauses (UK GDPR).",
        crontab=("5", "0", "*"),
    ),
    PeriodicJob(
        name="Rights requests: daily digest",
        task="requests_app.tasks.rights_requests_digest_task",
        description="Emails each assignee their requests due within 10 days or overdue. Once a day.",
        crontab=("0", "7", "*"),
    ),
    PeriodicJob(
        name="Rights requests: escalate missed deadlines",
        task="requests_app.tasks.rights_requests_escalate_task",
        description="Emails compliance officers when an acknowledgement or due date is missed, once per date.",
        crontab=("15", "*", "*"),
    ),
    PeriodicJob(
        name="Rights requests: identity reminders",
        task="requests_app.tasks.identity_reminders_task",
        description="Reminds the handler of requests waiting on identity information for 7 days.",
        crontab=("30", "7", "*"),
    ),
]
