"""Work whose worker or job was lost is found, shown, named in the digest and resumed (issue 18).

A worker that took a step and died leaves it "running" with a lease nobody renews; a job lost with
the broker leaves a step "pending" with a queue mark nobody clears. These tests leave that state the way
a worker does (the worker's own entry points, run in this process, stopped where the kill would stop
them) and travel past the lease; the real processes are killed in ``test_worker_faults.py``.
"""

from datetime import timedelta

import pytest
import time_machine
from django.core import mail
from django.urls import reverse
from django.utils import timezone

from fulfilment.models import FulfilmentPlan, FulfilmentStep
from fulfilment.selectors import stalled_work
from fulfilment.services import fulfilment_start, plan_approve
from fulfilment.services.common import step_begin
from fulfilment.services.plans import plan_continue
from fulfilment.services.stalls import stalled_work_resume
from jobs.models import PendingJob
from jobs.services import job_send
from requests_app.services.notifications import digests_send

pytestmark = [pytest.mark.django_db(databases=["default", "platform"]), pytest.mark.usefixtures("eager_tasks")]

LEASE = 120


def _approve_with_jobs_lost(plan, officer, capture) -> None:
    """Approve and queue the first steps, whose jobs then go nowhere (as if lost with the broker)."""
    with capture(execute=False):
        plan_approve(plan=plan, actor=officer)
    with capture(execute=False):
        plan_continue(plan_id=plan.pk)  # what the approval's commit runs: the steps are marked queued
    assert PendingJob.objects.filter(task_name="fulfilment.tasks.change_step_task").count() == 1


@pytest.fixture
def erasure(platform, open_request, officer, settings, django_capture_on_commit_callbacks):
    """An approved erasure whose jobs were handed out but never run; its first step taken by a worker
    that then died (running, lease no longer renewed)."""
    settings.FULFILMENT_LEASE_SECONDS = LEASE
    request = open_request(platform.subject, ["erasure"])
    with django_capture_on_commit_callbacks(execute=True):
        fulfilment_start(request=request, actor=officer)
    plan = FulfilmentPlan.objects.get(request=request, kind="erasure")
    _approve_with_jobs_lost(plan, officer, django_capture_on_commit_callbacks)
    head = FulfilmentStep.objects.filter(plan=plan).order_by("system_id", "position").first()
    step_begin(head.pk)  # the worker took it, then was killed
    head.refresh_from_db()
    assert head.status == "running" and head.heartbeat_at is not None and head.queued_at is None
    return plan, head


def _later(seconds: float):
    return time_machine.travel(timezone.now() + timedelta(seconds=seconds), tick=False)


def test_a_running_step_whose_lease_lapsed_is_queued_again_once_and_finishes(
    erasure, django_capture_on_commit_callbacks
):
    plan, head = erasure
    assert stalled_work() == []  # within the lease: the worker may still be at it
    with _later(LEASE + 1):
        stalls = stalled_work()
        assert [stall.object_id for stall in stalls] == [head.pk]
        assert "worker lost" in stalls[0].what and plan.request.reference in stalls[0].what
        with django_capture_on_commit_callbacks(execute=False):
            assert stalled_work_resume() == 1
            assert stalled_work_resume() == 0  # queued once while its job is outstanding
    jobs = PendingJob.objects.filter(task_name="fulfilment.tasks.change_step_task", args=[head.pk])
    assert jobs.count() == 2  # the approval's, taken by the dead worker, and the resumption
    with django_capture_on_commit_callbacks(execute=True):
        job_send(job_id=jobs.order_by("-pk").first().pk)  # the resumption's job reaches a live worker
    head.refresh_from_db()
    plan.refresh_from_db()
    assert head.status == "done" and head.attempts == 2
    assert plan.status == "completed"
    assert plan.line.status == "completed"


def test_a_step_whose_job_was_lost_before_any_worker_took_it_is_queued_again(
    platform, open_request, officer, settings, django_capture_on_commit_callbacks
):
    settings.FULFILMENT_LEASE_SECONDS = LEASE
    request = open_request(platform.subject, ["erasure"])
    with django_capture_on_commit_callbacks(execute=True):
        fulfilment_start(request=request, actor=officer)
    plan = FulfilmentPlan.objects.get(request=request, kind="erasure")
    _approve_with_jobs_lost(plan, officer, django_capture_on_commit_callbacks)
    head = FulfilmentStep.objects.filter(plan=plan).order_by("system_id", "position").first()
    with _later(LEASE - 1):
        assert stalled_work() == []  # a job may wait that long in a busy queue
    with _later(LEASE + 1):
        assert [(s.object_id, s.what.endswith("job lost")) for s in stalled_work()] == [(head.pk, True)]
        with django_capture_on_commit_callbacks(execute=True):
            assert stalled_work_resume() == 1
        assert stalled_work() == []
    plan.refresh_from_db()
    assert plan.status == "completed"
    assert FulfilmentStep.objects.get(pk=head.pk).attempts == 1


def test_the_dashboard_shows_stalled_work_and_the_officers_digest_names_it(erasure, client, officer):
    plan, head = erasure
    client.force_login(officer)
    page = client.get(reverse("admin:index"))
    assert page.status_code == 200 and b"Stalled work" in page.content
    assert b"oldest idle" not in page.content  # nothing stalled yet
    mail.outbox.clear()
    with _later(LEASE + 300):
        page = client.get(reverse("admin:index"))
        assert b"Stalled work" in page.content
        assert b'<strong style="color:#ba2121">1</strong>, oldest idle 7\xc2\xa0minutes' in page.content
        assert digests_send() >= 1
    digest = next(message for message in mail.outbox if officer.email in message.to)
    assert "1 stalled fulfilment work" in digest.subject
    assert f"Erase step of {plan.request.reference}" in digest.body and "worker lost" in digest.body
    assert plan.request.requester_email not in digest.body


def test_an_officer_can_retry_a_running_step_only_once_its_lease_lapsed(
    erasure, client, officer, django_capture_on_commit_callbacks
):
    plan, head = erasure
    client.force_login(officer)
    change = reverse("admin:fulfilment_fulfilmentstep_change", args=[head.pk])
    retry = reverse("admin:fulfilment_fulfilmentstep_retry", args=[head.pk])
    assert retry.encode() not in client.get(change).content  # no Retry button on a live step
    refused = client.post(retry, follow=True)
    assert b"it can be retried once the lease lapses" in refused.content
    assert FulfilmentStep.objects.get(pk=head.pk).status == "running"
    before = PendingJob.objects.filter(task_name="fulfilment.tasks.change_step_task", args=[head.pk]).count()
    with _later(LEASE + 1):
        assert retry.encode() in client.get(change).content
        with django_capture_on_commit_callbacks(execute=True):
            done = client.post(retry, follow=True)
    assert b"Step queued again." in done.content
    head.refresh_from_db()
    assert head.status == "done" and head.attempts == 2
    assert FulfilmentPlan.objects.get(pk=plan.pk).status == "completed"
    assert PendingJob.objects.filter(task_name="fulfilment.tasks.change_step_task", args=[head.pk]).count() == (
        before + 1
    )
