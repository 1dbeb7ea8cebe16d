"""Enqueue jobs through the outbox, send them on commit, resend what the broker did not take.

``job_enqueue`` is what services call instead of ``task.delay_on_commit``: the
job is a row of the caller's transaction, so it exists exactly when the change
that needs it was committed, and a broker outage at commit time costs a delay,
never the change itself nor a server error. Sending is at least once (a sender
that dies between the broker's acceptance and its own bookkeeping sends again
later), so the tasks sent this way are idempotent: they take ids, re-read
state and skip work already done.
"""

from __future__ import annotations

import importlib
import logging
from datetime import datetime, timedelta
from typing import Any

from celery import Task, current_app
from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone
from kombu.exceptions import KombuError

from jobs.models import PendingJob

logger = logging.getLogger(__name__)

# What a broker that is down, restarting or unreachable raises on publish. Anything
# else (a bug, or a task failing in eager mode during tests) propagates.
BROKER_ERRORS: tuple[type[BaseException], ...] = (KombuError, OSError)
try:  # the Redis client's own errors, when it lets one through kombu's wrapping
    from redis.exceptions import RedisError

    BROKER_ERRORS += (RedisError,)
except ImportError:  # pragma: no cover - the Redis extra is a dependency
    pass

# How long a sender holds a row while handing it to the broker.
SEND_LOCK = timedelta(seconds=60)


class UnknownTask(LookupError):
    """The job names a task no installed app defines."""


def _task(task_name: str) -> Task[Any, Any]:
    # A task registers when its module is imported: import that module (once), not Celery's
    # import_default_modules(), which re-runs django.setup() and the system checks on every call.
    if task_name not in current_app.tasks:
        module = task_name.rpartition(".")[0]
        try:
            importlib.import_module(module)
        except ImportError:
            raise UnknownTask(task_name) from None
    try:
        return current_app.tasks[task_name]
    except KeyError:
        raise UnknownTask(task_name) from None


def _check_ids(ids: tuple[Any, ...]) -> list[int]:
    # Task arguments reach the broker, its logs and the workers' logs: ids only.
    if any(isinstance(value, bool) or not isinstance(value, int) for value in ids):
        raise TypeError("job_enqueue takes record ids (integers) only, never other data")
    return list(ids)


def job_enqueue(task_name: str, *ids: int) -> PendingJob:
    """Write the job into the caller's transaction; hand it to the broker once that commits.

    Outside a transaction the row is saved and sent at once. A broker error
    while sending leaves the row pending for ``pending_jobs_resend``.
    """
    args = _check_ids(ids)
    _task(task_name)  # a typo fails here, in the caller's transaction, not later in a worker
    job = PendingJob.objects.create(task_name=task_name, args=args)
    job_id = job.pk
    transaction.on_commit(lambda: job_send(job_id=job_id))
    return job


def _claim(job_id: int, now: datetime) -> PendingJob | None:
    claimed = (
        PendingJob.objects.filter(pk=job_id, sent_at__isnull=True)
        .filter(Q(locked_until__isnull=True) | Q(locked_until__lt=now))
        .update(locked_until=now + SEND_LOCK)
    )
    return PendingJob.objects.filter(pk=job_id).first() if claimed else None


def job_send(*, job_id: int) -> bool:
    """Hand one pending job to the broker. Returns whether it was sent now.

    A job already sent, or being sent by another process, is left alone. A
    broker error is recorded (its kind only) and the job stays pending.
    """
    now = timezone.now()
    job = _claim(job_id, now)
    if job is None:
        return False
    try:
        task = _task(job.task_name)
    except UnknownTask:
        _record_failure(job, "UnknownTask", now)
        logger.error("job %s names task %s, which no app defines; it stays pending", job.pk, job.task_name)
        return False
    if current_app.conf.task_always_eager:
        # Eager mode (tests, the demo's loader): the task runs here; its errors are its own, not the broker's.
        task.apply_async(args=job.args)
        _mark_sent(job, now)
        return True
    try:
        _publish(task, job.args)
    except BROKER_ERRORS as exc:
        _record_failure(job, type(exc).__name__, now)
        logger.warning(
            "job %s (%s) not handed to the broker (%s); it stays pending", job.pk, job.task_name, type(exc).__name__
        )
        return False
    _mark_sent(job, now)
    return True


def _mark_sent(job: PendingJob, now: datetime) -> None:
    PendingJob.objects.filter(pk=job.pk).update(
        sent_at=timezone.now(), attempts=F("attempts") + 1, last_attempt_at=now, last_error="", locked_until=None
    )


def _publish(task: Task[Any, Any], args: list[int]) -> None:
    """Hand the task to the broker, failing fast: the outbox is the retry, and a web request
    should not wait seconds on a dead broker (kombu's default is to retry the connection)."""
    with current_app.producer_or_acquire() as producer:
        try:
            producer.connection.ensure_connection(max_retries=0)
            task.apply_async(args=tuple(args), retry=False, producer=producer)
        except BROKER_ERRORS:
            # A pooled connection to a broker that went away stays broken: drop it, the next send reconnects.
            producer.connection.collect()
            raise


def _record_failure(job: PendingJob, error: str, now: datetime) -> None:
    PendingJob.objects.filter(pk=job.pk).update(
        attempts=F("attempts") + 1, last_attempt_at=now, last_error=error[:200], locked_until=None
    )


def pending_jobs_resend(*, older_than: timedelta | None = None, limit: int = 1000) -> int:
    """Send the jobs still pending (beat runs this every minute). Returns how many were sent.

    Only jobs older than ``older_than`` (``JOBS_RESEND_AFTER_SECONDS``) are taken,
    so a job whose on-commit send is under way is not raced. Stops at the first
    broker error: the broker is down, the rest would fail the same way.
    """
    if older_than is None:
        older_than = timedelta(seconds=settings.JOBS_RESEND_AFTER_SECONDS)
    cutoff = timezone.now() - older_than
    ids = list(
        PendingJob.objects.filter(sent_at__isnull=True, created_at__lte=cutoff)
        .exclude(last_error="UnknownTask")
        .order_by("created_at", "pk")
        .values_list("pk", flat=True)[:limit]
    )
    sent = 0
    for job_id in ids:
        if job_send(job_id=job_id):
            sent += 1
            continue
        error = PendingJob.objects.filter(pk=job_id).values_list("last_error", flat=True).first()
        if error and error != "UnknownTask":
            logger.warning("broker unavailable: %d pending jobs wait for the next resend", len(ids) - sent)
            break
    if sent:
        logger.info("resent %d pending jobs", sent)
    return sent


def sent_jobs_purge(*, older_than_days: int | None = None) -> int:
    """Delete the records of jobs the broker accepted more than ``JOBS_KEEP_SENT_DAYS`` ago."""
    days = settings.JOBS_KEEP_SENT_DAYS if older_than_days is None else older_than_days
    deleted, _ = PendingJob.objects.filter(sent_at__lt=timezone.now() - timedelta(days=days)).delete()
    return deleted
