"""Change notices through Redis and a real worker process: recorded once per subscriber, whatever reruns."""

import uuid
from datetime import timedelta

import pytest
from django.utils import timezone

from compliance.models import WorkerHeartbeat
from compliance.tasks import worker_heartbeat_task
from subprocessors.models import ChangeNoticeDelivery, SubprocessorChange
from subprocessors.services.changes import subprocessor_change_announce
from subprocessors.tasks import change_notices_send_pending_task, change_notices_send_task
from tests.support.factories import DPAFactory, LocationFactory, SubprocessorFactory, SubscriberFactory
from tests.support.processes import wait_for


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_a_real_worker_sends_each_notice_once_even_when_the_jobs_are_queued_again(officer, categories, workers):
    sub = SubprocessorFactory(data_categories=[categories["support"]])
    LocationFactory(subprocessor=sub)
    DPAFactory(subprocessor=sub)
    subscribers = [SubscriberFactory(), SubscriberFactory(), SubscriberFactory(confirmed_at=None)]
    change = subprocessor_change_announce(
        subprocessor=sub,
        kind=SubprocessorChange.Kind.ADDITION,
        summary="Adding a vendor.",
        effective_on=timezone.localdate() + timedelta(days=30),
        actor=officer,
    )
    queue = f"test-{uuid.uuid4().hex[:8]}"
    workers(f"test-{queue}", queues=queue)
    change_notices_send_task.apply_async(args=[change.pk], queue=queue)
    change_notices_send_task.apply_async(args=[change.pk], queue=queue)
    change_notices_send_pending_task.apply_async(queue=queue)
    # The solo worker runs its queue in order: once the heartbeat queued last has run, so have the others.
    worker_heartbeat_task.apply_async(queue=queue)
    wait_for(lambda: WorkerHeartbeat.objects.filter(worker__startswith=f"test-{queue}@").exists(), timeout=60)
    deliveries = ChangeNoticeDelivery.objects.filter(change=change)
    assert sorted(d.subscriber_id for d in deliveries) == sorted(s.pk for s in subscribers[:2])
    assert all(d.attempts == 1 and d.sent_at for d in deliveries)
