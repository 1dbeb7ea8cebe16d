"""Beat jobs of the security app (registered by ``manage.py setup_periodic_tasks``)."""

from compliance.periodic import PeriodicJob

PERIODIC_JOBS = [
    PeriodicJob(
        name="Forget expired sessions",
        task="security.tasks.expired_sessions_clear_task",
        description="Deletes the sessions that ended (idle timeout) without a sign-out, and with them the admin "
        "searches they kept (an email address or a name searched for). Sign-out deletes a session at once.",
        crontab=("20", "*", "*"),
    ),
]
