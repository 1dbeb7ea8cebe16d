"""Redis stopped while a support agent logs a request and sends its acknowledgement: both are saved
(the pages answer as usual), and once Redis is back the resend job hands the letter to a real worker,
which delivers it exactly once.

The Redis here is a server of this test alone, on a free port, killed and restarted by the test;
the machine's shared Redis is never touched.
"""

from datetime import timedelta

import pytest
import time_machine
from django.urls import reverse
from django.utils import timezone

from compliance.models import Regime, Right
from compliance.tasks import worker_heartbeat_task
from jobs.models import PendingJob
from jobs.services import pending_jobs_resend
from requests_app.models import Communication, RightsRequest
from tests.support.processes import RedisServer, broker, free_port, start_worker, stop_process, wait_for

DELIVER = "requests_app.tasks.communication_deliver_task"


@pytest.fixture
def redis_server():
    server = RedisServer(free_port())
    server.start()
    yield server
    server.stop()


def _intake(regime: str, rights: list[str]) -> dict:
    return {
        "requester_name": "Ana Silva",
        "requester_email": "ana.silva@example.com",
        "account_ref": "",
        "regime": Regime.objects.get(code=regime).pk,
        "rights": [Right.objects.get(slug=slug).pk for slug in rights],
        "channel": "email",
        # A minute ago (a fixed time of day would lie in the future for a run before it).
        "received_at_0": (timezone.localtime() - timedelta(minutes=1)).date().isoformat(),
        "received_at_1": (timezone.localtime() - timedelta(minutes=1)).strftime("%H:%M:%S"),
        "description": "Email to the privacy address.",
    }


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_a_request_logged_while_redis_is_down_is_saved_and_its_letter_is_delivered_once_redis_is_back(
    client, agent, redis_server
):
    worker = start_worker("outbox", broker_url=redis_server.url)
    try:
        with broker(redis_server.url):
            # The web process has a live broker connection in its pool before the outage.
            worker_heartbeat_task.apply_async()
            redis_server.stop()

            client.force_login(agent)
            logged = client.post(reverse("admin:requests_app_rightsrequest_add"), _intake("uk_gdpr", ["access"]))
            assert logged.status_code == 302
            request = RightsRequest.objects.get()
            letter_url = reverse("admin:requests_app_rightsrequest_letter", args=[request.pk])
            sent = client.post(letter_url, {"template": "acknowledgement", "_send": "1"})
            assert sent.status_code == 302
            page = client.get(reverse("admin:requests_app_rightsrequest_change", args=[request.pk]))
            assert page.status_code == 200 and b"queued for sending" in page.content

            letter = Communication.objects.get(request=request)
            job = PendingJob.objects.get(task_name=DELIVER)
            assert job.args == [letter.pk]
            assert (job.sent_at, job.attempts, job.last_error) == (None, 1, "OperationalError")
            assert letter.delivered_at is None

            redis_server.start()  # an empty Redis: whatever was queued before the outage is gone
            # Beat's resend job, a minute later.
            with time_machine.travel(timezone.now() + timedelta(minutes=1)):
                assert pending_jobs_resend() == 1
                assert pending_jobs_resend() == 0

            wait_for(lambda: Communication.objects.filter(pk=letter.pk, delivered_at__isnull=False).exists(), 120)
            # A job queued after it has run too (one solo worker, in order): nothing else is on its way.
            worker_heartbeat_task.apply_async()
            wait_for(lambda: _heartbeats_from("outbox@"), 60)
    finally:
        stop_process(worker)

    letter.refresh_from_db()
    job.refresh_from_db()
    assert letter.delivery_attempts == 1
    assert job.sent_at is not None and job.attempts == 2
    assert PendingJob.objects.filter(task_name=DELIVER).count() == 1


def _heartbeats_from(prefix: str) -> bool:
    from compliance.models import WorkerHeartbeat

    return WorkerHeartbeat.objects.filter(worker__startswith=prefix).exists()
