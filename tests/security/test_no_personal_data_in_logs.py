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
from tests.fulfilment.conftest import (  # noqa: F401 - fixtures
    _private_storage,
    eager_tasks,
    platform,
    vendors,
)
from tests.security.test_least_privilege import _logged_in

pytestmark = pytest.mark.django_db(databases=["default", "platform"])

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
    platform,  # noqa: F811
    vendors,  # noqa: F811
    eager_tasks,  # noqa: F811
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
