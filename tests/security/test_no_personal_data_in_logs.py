"""No personal data in logs, task arguments, stored errors or URLs, across a full request lifecycle.

The lifecycle: intake through the API (with a rejected attempt first) and through the admin by a support
agent, the acknowledgement letter, identity verification, fulfilment (locate, export bundle, erasure plan
approved and carried out, Art. 19 notices), the requester downloading the bundle through the emailed
link, the completion letter and closing. Every log record of every logger is captured at DEBUG, every
task's arguments as the worker receives them (tasks run eagerly, in this process, through the outbox),
every URL requested or redirected to, and every link in every email; none may carry the requester's
email address or name.
"""

from __future__ import annotations

import json
import logging
import os
import re

import pytest
from celery.signals import before_task_publish, task_prerun
from django.core import mail
from django.test import Client
from django.urls import reverse

from compliance.models import Regime, Right
from fulfilment.models import ExportBundle, FulfilmentPlan, FulfilmentStep
from jobs.models import PendingJob
from requests_app.models import RightsRequest
from requests_app.services import api_client_create
from retention.models import RetentionRun
from tests.security.test_least_privilege import _logged_in

# Bundles and letters in the test's own folder (``private_storage`` of tests/support).
pytestmark = [pytest.mark.django_db(databases=["default", "platform"]), pytest.mark.usefixtures("private_storage")]

NAME = "Zephyrine Quillfeather"


@pytest.fixture
def every_log_record(caplog):
    """Every logger at DEBUG, whatever its configured level, for the duration of the test."""
    manager = logging.root.manager
    names = [name for name, logger in manager.loggerDict.items() if isinstance(logger, logging.Logger)]
    caplog.set_level(logging.DEBUG)
    for name in names:
        caplog.set_level(logging.DEBUG, logger=name)
    return caplog


@pytest.fixture
def task_arguments():
    """The arguments of every task published or run, as JSON text."""
    seen: list[str] = []

    def on_run(sender=None, task_id=None, task=None, args=None, kwargs=None, **_):
        seen.append(f"{task.name} {json.dumps(list(args or []))} {json.dumps(kwargs or {}, default=str)}")

    def on_publish(sender=None, body=None, headers=None, **_):
        seen.append(f"{sender} {json.dumps(body, default=str)} {json.dumps(headers or {}, default=str)}")

    task_prerun.connect(on_run, weak=False)
    before_task_publish.connect(on_publish, weak=False)
    yield seen
    task_prerun.disconnect(on_run)
    before_task_publish.disconnect(on_publish)


def _email_forms(email: str) -> list[str]:
    """The address as it could leak: as typed, lower case, its local part (the domain is shared by others)."""
    return [email, email.lower(), email.split("@", 1)[0], email.split("@", 1)[0].lower()]


def _name_forms(name: str) -> list[str]:
    return [name, name.lower(), *name.split()]


def test_a_full_request_lifecycle_leaves_no_personal_data_in_logs_task_arguments_errors_or_urls(
    platform,
    vendors,
    eager_tasks,
    officer,
    agent,
    every_log_record,
    task_arguments,
    django_capture_on_commit_callbacks,
):
    email = platform.subject.email
    account = platform.subject.account_ref
    urls: list[str] = []

    def visit(client: Client, method: str, url: str, data=None, **extra):
        with django_capture_on_commit_callbacks(execute=True):
            response = getattr(client, method)(url, data, **extra) if data is not None else getattr(client, method)(url)
        urls.append(response.wsgi_request.get_full_path())
        if response.has_header("Location"):
            urls.append(response["Location"])
        return response

    # 1. An integration posts the request; a first attempt with a malformed address is refused.
    _, token = api_client_create(name="Support desk", actor=officer)
    api = Client(HTTP_AUTHORIZATION=f"Bearer {token}")
    body = {"requester_email": email, "requester_name": NAME, "account_ref": account, "regime": "uk_gdpr"}
    refused = visit(
        api,
        "post",
        "/api/v1/rights-requests/",
        {**body, "requester_email": email.replace("@", "@@"), "rights": ["access"]},
        content_type="application/json",
    )
    assert refused.status_code == 400
    created = visit(
        api,
        "post",
        "/api/v1/rights-requests/",
        {**body, "rights": ["access", "erasure"]},
        content_type="application/json",
    )
    assert created.status_code == 201
    request = RightsRequest.objects.get(reference=created.json()["reference"])

    # 2. A support agent logs the same person's follow-up email in the admin and acknowledges the first request.
    desk = _logged_in(agent)
    logged = visit(
        desk,
        "post",
        reverse("admin:requests_app_rightsrequest_add"),
        {
            "requester_name": NAME,
            "requester_email": email,
            "account_ref": account,
            "regime": Regime.objects.get(code="uk_gdpr").pk,
            "rights": [Right.objects.get(slug="restriction").pk],
            "channel": "email",
            "received_at_0": "2026-01-05",
            "received_at_1": "09:30:00",
            "description": "Follow-up email to the privacy address.",
        },
    )
    assert logged.status_code == 302
    letter = reverse("admin:requests_app_rightsrequest_letter", args=[request.pk])
    assert visit(desk, "post", letter, {"template": "acknowledgement", "_send": "1"}).status_code == 302
    visit(desk, "get", reverse("admin:requests_app_rightsrequest_change", args=[request.pk]))
    visit(desk, "get", reverse("admin:requests_app_rightsrequest_changelist") + "?q=" + request.reference)

    # 3. The officer verifies identity, starts fulfilment, approves the erasure plan.
    office = _logged_in(officer)
    identity = reverse("admin:requests_app_rightsrequest_identity", args=[request.pk])
    visit(office, "post", identity, {"identity_method": "email_match", "identity_outcome": "verified", "note": ""})
    start = reverse("admin:requests_app_rightsrequest_fulfilment_start", args=[request.pk])
    assert visit(office, "post", start, {}).status_code == 302
    plan = FulfilmentPlan.objects.get(request=request, kind="erasure")
    assert plan.status == "awaiting_approval"
    approve = reverse("admin:fulfilment_fulfilmentplan_approve", args=[plan.pk])
    assert visit(office, "post", approve, {}).status_code == 302
    plan.refresh_from_db()
    assert plan.status == "completed"
    bundle = ExportBundle.objects.get(request=request)
    assert bundle.status == "ready"
    visit(office, "get", reverse("admin:fulfilment_exportbundle_change", args=[bundle.pk]))
    visit(office, "get", reverse("admin:fulfilment_exportbundle_download", args=[bundle.pk]))

    # 4. The requester opens the emailed link and downloads the bundle with their address.
    link_mail = next(m for m in mail.outbox if "ready to download" in m.subject)
    link = re.search(r"https?://\S+/data-export/\S+/", link_mail.body).group(0)
    path = link.split("://", 1)[1].split("/", 1)[1]
    requester = Client()
    assert visit(requester, "get", "/" + path).status_code == 200
    download = visit(requester, "post", "/" + path, {"email": email, "download": "1"})
    assert download.status_code == 200 and download["Content-Type"] == "application/zip"

    # 5. The completion letter, then closing.
    fulfilled = all(line.outcome == "fulfilled" for line in request.lines.all())
    answer = "completion" if fulfilled else "partial_or_refusal"  # invoices kept under the VAT rule: partial
    completion = visit(office, "post", letter, {"template": answer, "_send": "1"})
    assert completion.status_code == 302
    close = reverse("admin:requests_app_rightsrequest_close", args=[request.pk])
    assert visit(office, "post", close, {}).status_code == 302
    request.refresh_from_db()
    assert request.status == "closed"

    # What was captured.
    logs = "\n".join(
        f"{record.name} {record.levelname} {record.getMessage()} {record.args!r}" for record in every_log_record.records
    )
    links = [
        url
        for message in mail.outbox
        for text in [message.body, *(content for content, _ in getattr(message, "alternatives", []))]
        for url in re.findall(r"https?://\S+", str(text))
    ]
    errors = [
        *FulfilmentStep.objects.exclude(error="").values_list("error", flat=True),
        *PendingJob.objects.exclude(last_error="").values_list("last_error", flat=True),
        *RetentionRun.objects.exclude(error="").values_list("error", flat=True),
    ]
    job_arguments = [json.dumps(job.args) for job in PendingJob.objects.all()]
    assert len(every_log_record.records) > 10 and len(task_arguments) > 5 and len(urls) > 15
    assert all(isinstance(value, int) for job in PendingJob.objects.all() for value in job.args)

    leaks = []
    for label, texts in [
        ("log", [logs]),
        ("task arguments", task_arguments + job_arguments),
        ("URL", urls + links),
        ("stored error", errors),
    ]:
        for form in _email_forms(email) + _name_forms(NAME):
            leaks += [f"{label}: {form!r} in {text[:200]!r}" for text in texts if form in text]
    assert leaks == []


# --- request lines: search terms and the tokens of public links -----------------------------------------

# A token as the links carry them (signed, base64 with separators); never a real one, never needed: the
# path is logged before the view decides anything.
LINK_TOKEN = "eyJyIjo0Mn0.Zq9xWk.s3cr3t-T0ken_value"
PUBLIC_LINKS = [
    ("get", f"/data-export/{LINK_TOKEN}/", "/data-export/[token]/"),
    ("post", f"/data-export/{LINK_TOKEN}/", "/data-export/[token]/"),
    ("get", f"/subprocessors/confirm/{LINK_TOKEN}/", "/subprocessors/confirm/[token]/"),
    ("get", f"/subprocessors/unsubscribe/{LINK_TOKEN}/", "/subprocessors/unsubscribe/[token]/"),
    ("get", f"/art19-notices/{LINK_TOKEN}/confirm/", "/art19-notices/[token]/confirm/"),
]


@pytest.mark.parametrize(("method", "path", "logged"), PUBLIC_LINKS)
def test_django_request_logs_a_refused_public_link_without_its_token(every_log_record, baseline, method, path, logged):
    response = getattr(Client(), method)(path)
    assert response.status_code >= 400  # django.request logs every 4xx and 5xx path

    lines = [record.getMessage() for record in every_log_record.records if record.name == "django.request"]
    assert any(line.endswith(f": {logged}") for line in lines), lines  # the line was written...
    assert not any(LINK_TOKEN in line or "s3cr3t" in line for line in lines)  # ...without the token
    assert not any(LINK_TOKEN in str(record.args) for record in every_log_record.records)


def test_the_web_server_log_keeps_no_search_term_or_link_token(baseline, tmp_path):
    """The real development server (``runserver``) logs every request line, query string included."""
    import subprocess
    import sys
    import urllib.error
    import urllib.request

    from django.conf import settings

    from tests.support.processes import free_port, stop_process, url_for, wait_for

    email = "zephyrine.quillfeather@example.org"
    port = free_port()
    log = tmp_path / "server.log"
    environment = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.test",
        "DATABASE_URL": url_for("default"),
        "PLATFORM_DATABASE_URL": url_for("platform"),
        "LOG_LEVEL": "INFO",
    }
    with log.open("w") as output:
        server = subprocess.Popen(
            [sys.executable, "manage.py", "runserver", f"127.0.0.1:{port}", "--noreload", "--skip-checks"],
            cwd=settings.BASE_DIR,
            env=environment,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    base = f"http://127.0.0.1:{port}"

    def get(path: str) -> int:
        try:
            return urllib.request.urlopen(base + path, timeout=30).status  # noqa: S310 - our own loopback server
        except urllib.error.HTTPError as error:
            return error.code
        except urllib.error.URLError:
            return 0  # not listening yet

    try:
        wait_for(lambda: get("/subprocessors/") == 200, timeout=60)
        search = f"/admin/requests_app/rightsrequest/?q={email.replace('@', '%40')}"
        assert get(search) == 200  # redirected to the login page, which keeps the search in ?next=
        assert get(f"/data-export/{LINK_TOKEN}/") == 404
        assert get(f"/subprocessors/unsubscribe/{LINK_TOKEN}/") == 400
        wait_for(lambda: "/subprocessors/unsubscribe/[token]/" in log.read_text(), timeout=30)
    finally:
        stop_process(server)

    text = log.read_text()
    # The lines were written (the request line of each call, the 4xx lines of django.request)...
    assert '"GET /admin/requests_app/rightsrequest/?q=[redacted] HTTP/1.1" 302' in text, text
    assert '"GET /admin/login/?next=[redacted] HTTP/1.1" 200' in text, text
    assert '"GET /data-export/[token]/ HTTP/1.1" 404' in text and "Not Found: /data-export/[token]/" in text, text
    assert "Bad Request: /subprocessors/unsubscribe/[token]/" in text, text
    # ...and none carries the address (as typed or URL-encoded) or the token.
    for secret in [*_email_forms(email), email.replace("@", "%40"), LINK_TOKEN, "s3cr3t"]:
        assert secret not in text
