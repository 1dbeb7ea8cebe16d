"""The one-time download code goes through the outbox: a broker or mail server that is down shows the
person a page (never a 500) and spends nothing; the code counts once it was really sent."""

from datetime import timedelta

import pytest
from django.core import mail
from django.urls import reverse

from fulfilment.models import DownloadAttempt, ExportBundle
from fulfilment.services import download_link_create, fulfilment_start
from fulfilment.services.exports import link_token
from fulfilment.tasks import download_code_deliver_task
from jobs.models import PendingJob
from jobs.services import pending_jobs_resend
from tests.reliability.smtp import SmtpServer, smtp_server
from tests.support.processes import broker, free_port

pytestmark = pytest.mark.django_db(databases=["default", "platform"])
CODE = r"\b(\d{8})\b"


@pytest.fixture
def bundle(platform, open_request, officer, eager_tasks, django_capture_on_commit_callbacks) -> ExportBundle:
    request = open_request(platform.subject, ["access"])
    with django_capture_on_commit_callbacks(execute=True):
        fulfilment_start(request=request, actor=officer)
    return ExportBundle.objects.get(request=request)


@pytest.fixture
def eager_without_propagation():
    """Tasks run in-process as a worker would run them: a failing task fails (and retries), it raises to nobody."""
    from config.celery_app import app

    app.conf.task_always_eager = True
    app.conf.task_eager_propagates = False
    yield
    app.conf.task_always_eager = False


def _code_link(bundle):
    link, _ = download_link_create(bundle=bundle, actor=None, method="code", send_email=False)
    return link, reverse("fulfilment:download", args=[link_token(link)])


def _codes_counted(link) -> int:
    return DownloadAttempt.objects.filter(link=link, outcome=DownloadAttempt.Outcome.CODE_SENT).count()


def test_with_the_broker_down_asking_for_a_code_shows_a_page_spends_nothing_and_the_code_follows(
    client, bundle, django_capture_on_commit_callbacks
):
    import re

    link, url = _code_link(bundle)
    sent_before = len(mail.outbox)
    with broker(f"redis://127.0.0.1:{free_port()}/0"):
        from config.celery_app import app

        app.conf.task_always_eager = False  # the web process publishes to the (dead) broker
        with django_capture_on_commit_callbacks(execute=True):
            response = client.post(url, {"send_code": "1"})
        assert response.status_code == 200
        assert b"We are emailing you a code" in response.content
        job = PendingJob.objects.get(task_name="fulfilment.tasks.download_code_deliver_task")
        assert job.sent_at is None and job.args == [link.pk, 1]
        assert len(mail.outbox) == sent_before
        assert _codes_counted(link) == 0
        link.refresh_from_db()
        assert link.code_hash == ""
    # The broker is back: beat's resend hands the job over and the worker emails the code.
    from config.celery_app import app

    app.conf.task_always_eager = True
    assert pending_jobs_resend(older_than=timedelta(0)) == 1
    code = re.search(CODE, mail.outbox[-1].body).group(1)
    assert mail.outbox[-1].to == [bundle.request.requester_email]
    assert _codes_counted(link) == 1
    response = client.post(url, {"code": code})
    assert response.status_code == 200 and response["Content-Disposition"].startswith("attachment;")


def test_with_the_mail_server_refusing_asking_for_a_code_shows_a_page_and_counts_nothing(
    client, bundle, settings, eager_without_propagation, django_capture_on_commit_callbacks
):
    import re

    settings.EXPORT_LINK_CODES_PER_HOUR = 1
    link, url = _code_link(bundle)
    with smtp_server(settings) as smtp:
        smtp.refuse()
        with django_capture_on_commit_callbacks(execute=True):
            response = client.post(url, {"send_code": "1"})
        assert response.status_code == 200
        assert b"We are emailing you a code" in response.content
        assert smtp.refused >= 1 and smtp.messages == []
        # Nothing was spent: no code stored, no attempt counted against the hourly limit.
        link.refresh_from_db()
        assert link.code_hash == "" and _codes_counted(link) == 0
        # The mail server answers again: the same limit still allows the code, which arrives and works.
        smtp.refuse(False)
        with django_capture_on_commit_callbacks(execute=True):
            response = client.post(url, {"send_code": "1"})
        assert response.status_code == 200
        assert len(smtp.messages) == 1
        code = re.search(CODE, SmtpServer.body(smtp.messages[0])).group(1)
        assert _codes_counted(link) == 1
        response = client.post(url, {"code": code})
        assert response.status_code == 200 and response["Content-Disposition"].startswith("attachment;")
        # And now the hourly limit is reached.
        response = client.post(url, {"send_code": "1"})
        assert response.status_code == 200 and b"try again in an hour" in response.content


def test_the_code_task_retries_when_the_mail_server_fails():
    assert issubclass(__import__("smtplib").SMTPException, download_code_deliver_task.autoretry_for)
