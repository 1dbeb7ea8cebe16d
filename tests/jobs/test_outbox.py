"""The outbox: a job exists exactly when its change was committed, and a dead broker delays it, nothing more."""

from datetime import timedelta

import pytest
import redis
import time_machine
from django.conf import settings
from django.core.management import call_command
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from jobs.models import PendingJob
from jobs.services import UnknownTask, job_enqueue, job_send, pending_jobs_resend, sent_jobs_purge
from tests.support.processes import broker, free_port

TASK = "compliance.tasks.worker_heartbeat_task"


@pytest.fixture
def dead_broker():
    """A broker address where nothing listens: publishing fails the way it does when Redis is down."""
    with broker(f"redis://127.0.0.1:{free_port()}/0"):
        yield


def _queued(queue: str = "celery") -> int:
    return redis.Redis.from_url(settings.CELERY_BROKER_URL).llen(queue)


@pytest.mark.django_db(transaction=True)
def test_a_job_is_sent_to_the_broker_when_its_transaction_commits():
    before = _queued()
    with transaction.atomic():
        job = job_enqueue(TASK)
        assert _queued() == before  # nothing leaves before the commit
    job.refresh_from_db()
    assert job.sent_at is not None and job.attempts == 1 and job.last_error == ""
    assert _queued() == before + 1


@pytest.mark.django_db(transaction=True)
def test_a_rolled_back_transaction_leaves_no_job_and_sends_nothing():
    before = _queued()
    with pytest.raises(RuntimeError), transaction.atomic():
        job_enqueue(TASK)
        raise RuntimeError("the change failed")
    assert not PendingJob.objects.exists()
    assert _queued() == before


@pytest.mark.django_db(transaction=True)
def test_with_the_broker_down_the_change_commits_and_the_job_waits_with_the_kind_of_error(dead_broker):
    with transaction.atomic():
        job = job_enqueue(TASK)
    job.refresh_from_db()
    assert job.sent_at is None
    assert (job.attempts, job.last_error) == (1, "OperationalError")


@pytest.mark.django_db(transaction=True)
def test_the_resend_job_sends_what_waited_once_the_broker_answers(dead_broker):
    with transaction.atomic():
        job = job_enqueue(TASK)
    assert pending_jobs_resend(older_than=timedelta(0)) == 0  # still down: stays pending
    job.refresh_from_db()
    assert job.sent_at is None and job.attempts == 2


@pytest.mark.django_db(transaction=True)
def test_resending_after_the_outage_sends_each_job_once():
    with broker(f"redis://127.0.0.1:{free_port()}/0"), transaction.atomic():
        waiting = [job_enqueue(TASK) for _ in range(3)]
    before = _queued()
    # Beat leaves alone jobs younger than JOBS_RESEND_AFTER_SECONDS (their on-commit send may be under way).
    assert pending_jobs_resend() == 0
    with time_machine.travel(timezone.now() + timedelta(seconds=settings.JOBS_RESEND_AFTER_SECONDS + 1)):
        assert pending_jobs_resend() == 3
        assert pending_jobs_resend() == 0
    assert _queued() == before + 3
    assert all(job.sent_at for job in PendingJob.objects.filter(pk__in=[j.pk for j in waiting]))
    assert job_send(job_id=waiting[0].pk) is False  # already sent: nothing again


@pytest.mark.django_db(transaction=True)
def test_a_job_another_sender_holds_is_not_sent_twice():
    with broker(f"redis://127.0.0.1:{free_port()}/0"), transaction.atomic():
        job = job_enqueue(TASK)
    PendingJob.objects.filter(pk=job.pk).update(locked_until=timezone.now() + timedelta(seconds=30))
    assert job_send(job_id=job.pk) is False
    PendingJob.objects.filter(pk=job.pk).update(locked_until=timezone.now() - timedelta(seconds=1))
    assert job_send(job_id=job.pk) is True  # a sender that died lets go when its hold passes


@pytest.mark.django_db
def test_task_arguments_are_ids_only():
    with pytest.raises(TypeError):
        job_enqueue(TASK, "ana.silva@example.com")
    with pytest.raises(TypeError):
        job_enqueue(TASK, True)
    with pytest.raises(TypeError):
        job_enqueue(TASK, {"id": 1})
    assert not PendingJob.objects.exists()


@pytest.mark.django_db
def test_an_unknown_task_name_is_refused_in_the_callers_transaction():
    with pytest.raises(UnknownTask):
        job_enqueue("requests_app.tasks.no_such_task", 1)
    assert not PendingJob.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_sent_jobs_are_forgotten_after_the_keep_period_and_pending_ones_never(dead_broker, settings):
    with transaction.atomic():
        pending = job_enqueue(TASK)
    PendingJob.objects.create(task_name=TASK, sent_at=timezone.now())
    later = timezone.now() + timedelta(days=settings.JOBS_KEEP_SENT_DAYS, hours=1)
    with time_machine.travel(later):
        assert sent_jobs_purge() == 1
    assert list(PendingJob.objects.values_list("pk", flat=True)) == [pending.pk]


@pytest.mark.django_db(transaction=True)
def test_the_command_resends_everything_waiting_and_says_what_is_left(capsys):
    with broker(f"redis://127.0.0.1:{free_port()}/0"), transaction.atomic():
        job_enqueue(TASK)
        job_enqueue(TASK)
    call_command("resend_pending_jobs", "--all")
    assert "sent: 2, still pending: 0" in capsys.readouterr().out


@pytest.mark.django_db(transaction=True)
def test_officers_see_waiting_jobs_on_the_dashboard_and_send_them_from_the_list(client, officer, agent):
    with broker(f"redis://127.0.0.1:{free_port()}/0"), transaction.atomic():
        job = job_enqueue(TASK)
    client.force_login(officer)
    with time_machine.travel(timezone.now() + timedelta(minutes=5)):
        page = client.get(reverse("admin:index")).content.decode()
    assert "Jobs waiting for the broker" in page and "1 job could not be handed to the broker" in page
    response = client.post(
        reverse("admin:jobs_pendingjob_changelist"), {"action": "send_now", "_selected_action": [job.pk]}
    )
    assert response.status_code == 302
    job.refresh_from_db()
    assert job.sent_at is not None
    assert "Jobs waiting for the broker" not in client.get(reverse("admin:index")).content.decode()
    client.force_login(agent)
    assert client.get(reverse("admin:jobs_pendingjob_changelist")).status_code == 403
