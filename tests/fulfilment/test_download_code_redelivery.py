"""A "send me a code" job delivered twice sends one code, and that code keeps working.

Celery redelivers a job whose worker was lost before acknowledging it, and the outbox sends a job again
when its sender died between the broker's acceptance and its own bookkeeping. Here a real worker
(``tests/support/processes.py``) gets the same job twice, through the outbox: the requester must get one
email with one code, not a second, different code that silently replaces the first.
"""

from __future__ import annotations

import re
from datetime import timedelta
from email import message_from_bytes
from pathlib import Path

import pytest
from django.urls import reverse

from fulfilment.models import DownloadAttempt, DownloadLink, ExportBundle
from fulfilment.services import download_link_create, fulfilment_start
from fulfilment.services.exports import link_token
from jobs.models import PendingJob
from jobs.services import pending_jobs_resend
from tests.support.processes import wait_for

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True, databases=["default", "platform"])]
TASK = "fulfilment.tasks.download_code_deliver_task"


@pytest.fixture
def mail(tmp_path) -> Path:
    folder = tmp_path / "mail"
    folder.mkdir()
    return folder


@pytest.fixture
def worker(workers, _private_storage, mail):
    return workers(
        "codes",
        DJANGO_SETTINGS_MODULE="tests.browser.worker_settings",
        TEST_PRIVATE_STORAGE=str(_private_storage),
        EMAIL_URL=f"filemail://{mail}",
    )


def _codes(mail: Path) -> list[str]:
    """The one-time codes the worker emailed, oldest first (the file backend writes one file per send)."""
    codes = []
    for path in sorted(mail.iterdir(), key=lambda p: p.stat().st_mtime_ns):
        for raw in path.read_bytes().split(b"-" * 79):
            if not raw.strip():
                continue
            message = message_from_bytes(raw.strip())
            if message["Subject"] and message["Subject"].startswith("Your one-time code"):
                codes.append(re.search(r"\b(\d{8})\b", message.get_payload(decode=True).decode()).group(1))
    return codes


def _code_link(bundle: ExportBundle) -> tuple[DownloadLink, str]:
    link, _ = download_link_create(bundle=bundle, actor=None, method="code", send_email=False)
    return link, reverse("fulfilment:download", args=[link_token(link)])


def test_a_code_job_delivered_twice_sends_one_code_which_still_works(
    client, platform, open_request, officer, worker, mail
):
    request = open_request(platform.subject, ["access"])
    fulfilment_start(request=request, actor=officer)
    bundle = wait_for(
        lambda: ExportBundle.objects.filter(request=request, status=ExportBundle.Status.READY).first(), timeout=120
    )
    link, url = _code_link(bundle)
    other, other_url = _code_link(bundle)

    response = client.post(url, {"send_code": "1"})
    assert response.status_code == 200 and b"We are emailing you a code" in response.content
    first = wait_for(lambda: _codes(mail))
    assert len(first) == 1
    job = PendingJob.objects.get(task_name=TASK, args=[link.pk, 1])

    # The sender died after the broker took the job and before it marked it sent: the outbox sends it again,
    # and the worker gets the same job a second time.
    PendingJob.objects.filter(pk=job.pk).update(sent_at=None)
    assert pending_jobs_resend(older_than=timedelta(0)) == 1
    # A code asked for on another link afterwards: once it arrives, the worker has handled the repeat.
    client.post(other_url, {"send_code": "1"})
    wait_for(lambda: DownloadAttempt.objects.filter(link=other, outcome=DownloadAttempt.Outcome.CODE_SENT).exists())

    assert len(_codes(mail)) == 2, "the repeated job sent a second code"
    counted = DownloadAttempt.objects.filter(link=link, outcome=DownloadAttempt.Outcome.CODE_SENT).count()
    assert counted == 1
    response = client.post(url, {"code": first[0]})
    assert response.status_code == 200 and response["Content-Disposition"].startswith("attachment;")
