"""The loop works with real processes: a message through Redis, a worker, a row in PostgreSQL."""

import uuid

import pytest
from django.urls import reverse

from compliance.models import WorkerHeartbeat
from compliance.tasks import worker_heartbeat_task
from tests.support.processes import wait_for


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_heartbeat_goes_through_redis_to_a_real_worker_and_shows_in_admin(admin_client, workers):
    queue = f"test-{uuid.uuid4().hex[:8]}"
    workers(f"test-{queue}", queues=queue)
    worker_heartbeat_task.apply_async(queue=queue)
    beat = wait_for(lambda: WorkerHeartbeat.objects.filter(worker__startswith=f"test-{queue}@").first(), timeout=60)
    assert beat.beats == 1
    page = admin_client.get(reverse("admin:index"))
    assert b"Workers are running" in page.content
    assert beat.worker.encode() in page.content
