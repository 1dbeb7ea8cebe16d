"""What people do, in a real browser, one journey per person: a support agent logs a request that came
by email and acknowledges it; a compliance officer verifies the requester, starts fulfilment, completes a
manual task, approves the erasure plan through its summary and sends the answer letter; the requester
downloads their data from the emailed link (by email address, then by one-time code); an auditor reads
the request and its history and cannot change either; a customer reads the public subprocessor list and
subscribes to its change notices. Emails are read from the mail folder, as a person would find them.

Jobs run on a real Celery worker (one for the module, see ``conftest.worker``): each step after a button
waits for the worker's effect by polling the database or reloading the page until a deadline."""

from __future__ import annotations

import re
from datetime import timedelta
from email import message_from_string
from email import policy as email_policy
from email.message import EmailMessage
from pathlib import Path

import pytest
import time_machine
from django.utils import timezone
from django.utils.formats import date_format

from compliance.models import Regime, Right
from fulfilment.models import ExportBundle, FulfilmentPlan, FulfilmentStep
from requests_app.models import Communication, RightsRequest
from subprocessors.models import NoticeSubscriber, SubprocessorChange
from subprocessors.services.changes import subprocessor_change_activate, subprocessor_change_announce
from tests.browser.conftest import eventually
from tests.security.conftest import PASSWORD, code_for, enrolled
from tests.support.factories import DPAFactory, LocationFactory, SubprocessorFactory

pytestmark = [
    pytest.mark.browser,
    pytest.mark.worker,
    pytest.mark.django_db(transaction=True, databases=["default", "platform"]),
    pytest.mark.usefixtures("private_storage"),
]

REQUESTER = "Beatrix Fernsby"


def log_in(page, user, shots, who: str) -> None:
    """Password, then the code the person's authenticator shows."""
    device = enrolled(user)
    page.goto("/admin/")
    shots(page, f"{who} login page")
    page.fill("#id_username", user.get_username())
    page.fill("#id_password", PASSWORD)
    page.click("input[type=submit]")
    page.wait_for_selector("#two-factor-verify-form")
    page.fill("#id_token", code_for(device))
    shots(page, f"{who} second factor")
    page.click("#two-factor-verify-form input[type=submit]")
    page.wait_for_selector("#site-name")
    assert page.url.endswith("/admin/")


# ------------------------------------------------------------------------------
# Helpers shared by the journeys
# ------------------------------------------------------------------------------


def delivered(folder: Path, to: str) -> list[EmailMessage]:
    """The messages the file backend wrote to ``folder`` for ``to``, oldest first (only whole messages: the
    worker may be writing one as the test reads)."""
    separator = "\n" + "-" * 79 + "\n"
    messages = []
    for path in sorted(folder.glob("*.log"), key=lambda p: p.stat().st_mtime_ns):
        for chunk in path.read_text().split(separator)[:-1]:
            if chunk.strip():
                message = message_from_string(chunk.strip(), policy=email_policy.default)
                if to in (message["To"] or ""):
                    messages.append(message)
    return messages


def delivered_eventually(folder: Path, to: str, subject_has: str, count: int = 1) -> list[EmailMessage]:
    """Wait until ``count`` messages to ``to`` whose subject contains ``subject_has`` were delivered."""

    def found():
        messages = [m for m in delivered(folder, to) if subject_has.lower() in m["Subject"].lower()]
        return messages if len(messages) >= count else None

    return eventually(found, what=f"{count} email(s) '{subject_has}' delivered")


def body_of(message: EmailMessage) -> str:
    return message.get_body(preferencelist=("plain",)).get_content()


def local_path(url: str) -> str:
    """The path of an absolute link from an email, to open on the live server."""
    return "/" + url.split("://", 1)[1].split("/", 1)[1]


def delivered_letter(request, template: str) -> Communication:
    """The request's letter once the worker delivered it."""
    return eventually(
        lambda: Communication.objects.filter(request=request, template=template, delivered_at__isnull=False).first(),
        what=f"the {template} letter delivered",
    )


def complete_manual_tasks_until_finished(page, shots, who: str, plan) -> int:
    """Open each manual task as the worker opens it, give its row counts and mark it done, until ``plan``
    is completed. Returns how many tasks were done."""
    from compliance.models import ManualTask

    def next_thing():
        plan.refresh_from_db()
        if plan.status == FulfilmentPlan.Status.COMPLETED:
            return "finished"
        return ManualTask.objects.filter(status=ManualTask.Status.OPEN).order_by("pk").first()

    done = 0
    while (task := eventually(next_thing, what="a manual task opened or the plan completed")) != "finished":
        page.goto("/admin/compliance/manualtask/?status__exact=open")
        page.locator(f"#result_list a[href*='/manualtask/{task.pk}/change/']").first.click()
        page.wait_for_selector("#id_mark_done")
        for field in page.locator("input[name$='-rows']").all():
            field.fill("2")
        page.check("#id_mark_done")
        shots(page, f"{who} marks a manual task done")
        page.click("input[name=_save]")
        page.wait_for_selector("ul.messagelist")
        assert "is done" in page.inner_text("ul.messagelist"), page.inner_text("ul.messagelist")
        done += 1
    return done


@pytest.fixture
def finance_drive(platform, officer):
    """A system of record the back office cannot reach: a shared drive a person searches by hand."""
    from compliance.models import DataCategory, MappedColumn, MappedTable, SystemOfRecord

    system = SystemOfRecord.objects.create(
        name="Finance drive",
        slug="finance-drive",
        owner="Finance",
        kind="manual",
        manual_assignee=officer,
        manual_instructions="Search the Customers folder by email address.",
    )
    table = MappedTable.objects.create(
        system=system, table_name="refund-letters", subject_column="email", subject_key="email"
    )
    MappedColumn.objects.create(
        table=table,
        name="email",
        data_category=DataCategory.objects.get(slug="account-identity"),
        treatment="delete_row",
    )
    return system


def logged_request(platform, agent, **extra):
    """The access + erasure request the agent logged (see the agent's journey), through the services."""
    from requests_app.services import rights_request_open

    subject = platform.subject
    return rights_request_open(
        requester_name=REQUESTER,
        requester_email=subject.email,
        account_ref=subject.account_ref or "",
        regime="uk_gdpr",
        rights=["access", "erasure"],
        channel="email",
        description="Email to the privacy address: please send my data, then delete my account.",
        actor=agent,
        **extra,
    )


def answered_request(platform, agent, officer):
    """The request after the officer's journey, through the services and the worker: verified, fulfilled,
    answered (the answer delivered)."""
    from fulfilment.selectors import letter_context
    from fulfilment.services import fulfilment_start, plan_approve
    from requests_app.services import communication_send, rights_request_identity_record

    request = logged_request(platform, agent)
    rights_request_identity_record(request=request, method="email_match", outcome="verified", actor=officer)
    request.refresh_from_db()
    fulfilment_start(request=request, actor=officer)
    erasure = eventually(
        lambda: FulfilmentPlan.objects.filter(
            request=request, kind="erasure", status=FulfilmentPlan.Status.AWAITING_APPROVAL
        ).first(),
        what="the erasure plan ready for approval",
    )
    plan_approve(plan=erasure, actor=officer)
    eventually(
        lambda: (
            FulfilmentPlan.objects.filter(pk=erasure.pk, status=FulfilmentPlan.Status.COMPLETED).exists()
            and ExportBundle.objects.filter(request=request, status=ExportBundle.Status.READY).exists()
        ),
        what="the erasure completed and the bundle ready",
    )
    request.refresh_from_db()
    communication_send(request=request, template="partial_or_refusal", actor=officer, context=letter_context(request))
    delivered_letter(request, "partial_or_refusal")
    request.refresh_from_db()
    return request


# ------------------------------------------------------------------------------
# The journeys
# ------------------------------------------------------------------------------


def test_support_agent_logs_a_request_that_came_by_email_and_sends_the_acknowledgement(
    new_page,
    shots,
    protections_on,
    mail_folder,
    adequacy_list,
    platform,
    agent,
):
    subject = platform.subject
    page = new_page()
    log_in(page, agent, shots, "agent")
    page.click("text=Rights requests")
    page.click("a.addlink")
    page.wait_for_selector("#id_requester_name")
    page.fill("#id_requester_name", REQUESTER)
    page.fill("#id_requester_email", subject.email)
    page.fill("#id_account_ref", subject.account_ref)
    page.select_option("#id_regime", value=str(Regime.objects.get(code="uk_gdpr").pk))
    for slug in ("access", "erasure"):
        page.check(f"input[name=rights][value='{Right.objects.get(slug=slug).pk}']")
    page.fill("#id_description", "Email to the privacy address: please send my data, then delete my account.")
    shots(page, "agent fills the intake form")
    page.click("input[name=_save]")
    page.wait_for_selector("ul.messagelist")
    assert "was added successfully" in page.inner_text("ul.messagelist")
    request = RightsRequest.objects.get()
    assert (request.requester_email, request.created_by) == (subject.email.lower(), agent)
    assert request.reference in page.content()
    shots(page, "agent sees the request in the list")

    page.click(f"#result_list a:text('{request.reference}')")
    page.wait_for_selector("text=Send a letter")
    shots(page, "agent opens the request")
    page.click("text=Send a letter")
    page.select_option("select[name=template]", "acknowledgement")
    page.click("input[name=_preview]")
    page.wait_for_selector("input[name=_send]")
    body = page.input_value("textarea[name=body]")
    assert f"Dear {REQUESTER}" in body and request.reference in body
    shots(page, "agent previews the acknowledgement")
    page.click("input[name=_send]")
    assert "Letter stored and queued for sending." in page.inner_text("ul.messagelist")
    shots(page, "acknowledgement sent")
    letter = delivered_letter(request, "acknowledgement")
    assert letter.edited is False
    eventually(lambda: RightsRequest.objects.get(pk=request.pk).acknowledged_at, what="the acknowledgement stamped")
    [message] = delivered_eventually(mail_folder, subject.email.lower(), letter.subject)
    assert message["Subject"] == letter.subject and "The Studio privacy team" in body_of(message)


def test_compliance_officer_verifies_fulfils_approves_completes_a_manual_task_and_answers(
    new_page,
    shots,
    protections_on,
    mail_folder,
    adequacy_list,
    platform,
    vendors,
    finance_drive,
    agent,
    officer,
):
    from compliance.models import ManualTask
    from jobs.models import PendingJob

    request = logged_request(platform, agent)
    page = new_page()
    log_in(page, officer, shots, "officer")
    page.goto("/admin/requests_app/rightsrequest/")
    page.click(f"text={request.reference}")
    page.wait_for_selector("text=Identity verification")
    shots(page, "officer opens the request")
    page.click("text=Identity verification")
    page.select_option("select[name=identity_method]", "email_match")
    page.select_option("select[name=identity_outcome]", "verified")
    shots(page, "officer records the identity check")
    page.click("input[type=submit][value=Save]")
    assert "Identity verification recorded." in page.inner_text("ul.messagelist")

    page.click("button:has-text('Start fulfilment')")
    page.wait_for_selector("ul.messagelist")
    shots(page, "officer started fulfilment")
    # The shared drive is searched by a person: once the worker has located the platform's rows, the drive's
    # locate step waits on a manual task, and nothing is planned.
    locate = eventually(
        lambda: FulfilmentStep.objects.filter(
            request=request, kind="locate", system=finance_drive, status="waiting"
        ).first(),
        what="the shared drive's locate step waiting on a manual task",
    )
    eventually(
        lambda: FulfilmentStep.objects.filter(request=request, kind="locate", system=platform.system, status="done"),
        what="the platform located",
    )
    assert locate.external_reference.startswith("manual task ")
    assert not FulfilmentPlan.objects.filter(request=request).exists()

    # Marking the task done moves the step on at once: located, and the lines planned.
    task = ManualTask.objects.get(pk=int(locate.external_reference.split()[-1]))
    page.goto(f"/admin/compliance/manualtask/{task.pk}/change/")
    page.fill("input[name='tables-0-rows']", "2")
    page.check("#id_mark_done")
    shots(page, "officer marks the search of the shared drive done")
    page.click("input[name=_save]")
    assert "is done" in page.inner_text("ul.messagelist")
    # Saving the task queued its step again (no beat runs here to poll it): the worker locates at once.
    rerun = PendingJob.objects.filter(task_name="fulfilment.tasks.locate_step_task", args=[locate.pk])
    assert rerun.count() == 2
    eventually(
        lambda: FulfilmentStep.objects.filter(pk=locate.pk, status="done", rows_located=2).exists(),
        timeout=30,
        what="the shared drive's step done once its task is",
    )
    erasure = eventually(
        lambda: FulfilmentPlan.objects.filter(
            request=request, kind="erasure", status=FulfilmentPlan.Status.AWAITING_APPROVAL
        ).first(),
        timeout=30,
        what="the erasure plan ready for approval",
    )
    page.goto(f"/admin/requests_app/rightsrequest/{request.pk}/change/")
    fulfilment = page.inner_text("fieldset:has(h2:text('Fulfilment'))")
    shots(page, "the step moved on at once and the plans are ready")
    assert "Finance drive" in fulfilment and "Waiting" not in fulfilment.split("Plans")[0]
    assert "Awaiting approval" in fulfilment

    # Approval goes through the summary of what the plan deletes, masks and keeps.
    page.click(f"fieldset a[href$='/fulfilment/fulfilmentplan/{erasure.pk}/change/']")
    page.click("#approve-plan")
    page.wait_for_selector("#plan-summary")
    summary = page.inner_text("#plan-summary")
    assert "Finance drive" in summary and "Studio platform" in summary
    assert "VAT Notice 700/21" in page.inner_text("#plan-kept")
    shots(page, "officer reads what the erasure will delete mask and keep")
    erasure.refresh_from_db()
    assert erasure.status == FulfilmentPlan.Status.AWAITING_APPROVAL
    page.click("input[name=approve]")
    page.wait_for_selector("ul.messagelist")
    assert "Plan approved" in page.inner_text("ul.messagelist")
    shots(page, "plan approved")

    # The shared drive's export and erasure are tasks for a person too, opened as the worker reaches them.
    assert complete_manual_tasks_until_finished(page, shots, "officer", erasure) >= 2
    eventually(
        lambda: ExportBundle.objects.filter(request=request, status=ExportBundle.Status.READY).exists(),
        what="the bundle ready",
    )
    page.goto(f"/admin/requests_app/rightsrequest/{request.pk}/change/")
    fulfilment = page.inner_text("fieldset:has(h2:text('Fulfilment'))")
    shots(page, "officer sees the run finished")
    steps = FulfilmentStep.objects.filter(request=request)
    assert steps.exists() and not steps.exclude(status__in=["done", "waived"]).exists()
    assert "Completed" in fulfilment and "Failed" not in fulfilment and "Running" not in fulfilment
    assert not request.lines.exclude(status="completed").exists()

    # The answer: what was erased and what the VAT rule kept, in the requester's words, with the link.
    page.click("text=Send a letter")
    page.select_option("select[name=template]", "partial_or_refusal")
    page.click("input[name=_preview]")
    page.wait_for_selector("input[name=_send]")
    body = page.input_value("textarea[name=body]")
    assert f"Dear {REQUESTER}" in body and "/data-export/" in body
    assert "We erased your account and identity data" in body and "rows" not in body
    assert "Your billing and transaction data (in Studio platform): invoices are VAT records" in body
    shots(page, "officer previews the answer letter")
    page.click("input[name=_send]")
    assert "Letter stored and queued for sending." in page.inner_text("ul.messagelist")
    shots(page, "answer letter sent")
    letter = delivered_letter(request, "partial_or_refusal")
    assert letter.edited is False
    answers = delivered_eventually(mail_folder, platform.subject.email.lower(), letter.subject)
    assert len(answers) == 1

    # The outbox: one job per step, plus one more for each step a manual task held (run again once the task
    # is done), per letter, per Art. 19 notice and the bundle's assembly; not one per step per finished step.
    # Retries are Celery's own (the task is redelivered, not queued again), so they add no row here.
    jobs = PendingJob.objects.all()
    assert not jobs.filter(sent_at__isnull=True).exists()
    reruns = ManualTask.objects.filter(status=ManualTask.Status.DONE).count()
    bound = steps.count() + reruns + request.communications.count() + request.recipient_notices.count() + 1
    by_task = sorted(jobs.values_list("task_name", flat=True))
    assert jobs.count() <= bound, f"{jobs.count()} jobs for {steps.count()} steps: {by_task}"


def test_requester_opens_the_emailed_link_types_their_email_and_downloads_then_uses_a_code_link(
    new_page,
    shots,
    protections_on,
    mail_folder,
    adequacy_list,
    platform,
    agent,
    officer,
):
    from fulfilment.models import DownloadLink
    from fulfilment.services import download_link_create

    request = answered_request(platform, agent, officer)
    email = platform.subject.email.lower()
    ready = delivered_eventually(mail_folder, email, "ready")
    assert len(ready) == 1
    link = re.search(r"https?://\S+/data-export/\S+/", body_of(ready[0])).group(0)

    page = new_page()
    page.goto(local_path(link))
    shots(page, "requester opens the link from the email")
    assert request.reference in page.inner_text("main")
    # The email and the page give the link's expiry alike, in the one date format ("3 October 2025").
    expiry = date_format(timezone.localtime(DownloadLink.objects.get(bundle__request=request).expires_at))
    assert f"works until {expiry}" in body_of(ready[0]) and f"works until {expiry}," in page.inner_text("main")
    page.fill("#id_email", "someone.else@example.com")
    page.click("button[name=download]")
    page.wait_for_selector(".refusal")
    shots(page, "a wrong address is refused")
    page.fill("#id_email", platform.subject.email.upper())
    with page.expect_download() as download:
        page.click("button[name=download]")
    shots(page, "requester downloaded the ZIP")
    _check_bundle(download.value, request)

    # The code variant: the officer sends a link that asks for a one-time code.
    bundle = ExportBundle.objects.get(request=request)
    download_link_create(bundle=bundle, actor=officer, method=DownloadLink.Method.CODE)
    messages = delivered_eventually(mail_folder, email, "ready", count=2)
    assert len(messages) == 2 and "one-time code" in body_of(messages[-1])
    code_link = re.search(r"https?://\S+/data-export/\S+/", body_of(messages[-1])).group(0)
    assert code_link != link
    page = new_page()
    page.goto(local_path(code_link))
    shots(page, "requester opens the code link")
    page.click("button[name=send_code]")
    page.wait_for_selector(".notice")
    shots(page, "a code was emailed")
    [code_email] = delivered_eventually(mail_folder, email, "code")
    code = re.search(r"\b(\d{8})\b", body_of(code_email)).group(1)
    page.fill("#id_code", code)
    with page.expect_download() as download:
        page.click("button[name=download]")
    shots(page, "requester downloaded the ZIP with the code")
    _check_bundle(download.value, request)


def _check_bundle(download, request) -> None:
    import hashlib
    import json
    import zipfile

    assert download.suggested_filename == f"{request.reference}-your-data.zip"
    with zipfile.ZipFile(download.path()) as bundle:
        manifest = json.loads(bundle.read("manifest.json"))
        assert manifest["request"] == request.reference and manifest["rows_total"] > 0
        assert manifest["files"] and "index.html" in bundle.namelist()
        for entry in manifest["files"]:
            assert hashlib.sha256(bundle.read(entry["name"])).hexdigest() == entry["sha256"], entry["name"]


def test_auditor_reads_the_request_and_its_history_and_cannot_change_either(
    new_page,
    shots,
    protections_on,
    mail_folder,
    adequacy_list,
    platform,
    agent,
    officer,
    auditor,
):
    request = answered_request(platform, agent, officer)
    page = new_page()
    log_in(page, auditor, shots, "auditor")
    page.goto("/admin/requests_app/rightsrequest/")
    page.click(f"text={request.reference}")
    page.wait_for_selector("#content-main")
    shots(page, "auditor reads the request")
    content = page.inner_text("#content-main")
    assert request.reference in content and REQUESTER in page.content()
    assert page.locator("input[name=_save]").count() == 0
    tools = page.inner_text(".object-tools").lower()
    assert "history" in tools
    for button in ("send a letter", "start fulfilment", "identity verification", "close", "record an event", "note"):
        assert button not in tools, tools

    page.goto(f"/admin/requests_app/rightsrequest/{request.pk}/history/")
    shots(page, "auditor reads the history")
    history = page.inner_text("#content-main")
    assert agent.get_username() in history and officer.get_username() in history

    # Trying anyway, with the session's own CSRF token: the server refuses and nothing changes.
    token = next(c["value"] for c in page.context.cookies() if c["name"].endswith("csrftoken"))
    before = (request.status, request.requester_name, request.communications.count())
    response = page.request.post(
        f"/admin/requests_app/rightsrequest/{request.pk}/change/",
        form={"requester_name": "Changed", "_save": "Save"},
        headers={"X-CSRFToken": token, "Referer": page.url},
    )
    assert response.status == 403
    response = page.request.post(
        f"/admin/requests_app/rightsrequest/{request.pk}/letter/",
        form={"template": "acknowledgement", "_send": "1"},
        headers={"X-CSRFToken": token, "Referer": page.url},
    )
    assert response.status == 403
    letter_page = page.goto(f"/admin/requests_app/rightsrequest/{request.pk}/letter/")
    assert letter_page.status == 403
    shots(page, "auditor is refused the letter form")
    request.refresh_from_db()
    assert (request.status, request.requester_name, request.communications.count()) == before


def test_a_customer_reads_the_public_subprocessor_list_and_subscribes(
    new_page, shots, protections_on, mail_folder, adequacy_list, baseline, officer
):
    from compliance.models import DataCategory

    vendor = SubprocessorFactory(legal_name="Nimbus Hosting Ltd", trading_name="Nimbus", slug="nimbus")
    vendor.data_categories.set(DataCategory.objects.filter(slug__in=["account-identity", "api-usage"]))
    LocationFactory(subprocessor=vendor, country="IE")
    DPAFactory(subprocessor=vendor)
    with time_machine.travel(timezone.now() - timedelta(days=30)):
        change = subprocessor_change_announce(
            subprocessor=vendor,
            kind=SubprocessorChange.Kind.ADDITION,
            summary="Adding Nimbus for hosting.",
            effective_on=timezone.localdate() + timedelta(days=30),
            actor=officer,
        )
    subprocessor_change_activate(change=change, actor=officer)

    page = new_page()
    page.goto("/subprocessors/")
    assert page.inner_text("h1")
    assert "Nimbus" in page.content() and "Ireland" in page.content()
    assert "INTERNAL-NOTE-SENTINEL" not in page.content()
    shots(page, "public subprocessor list")

    page.fill("form.subscribe input[type=email]", "procurement@customer.example")
    page.click("form.subscribe button[type=submit]")
    subscriber = eventually(
        lambda: NoticeSubscriber.objects.filter(email="procurement@customer.example").first(), what="the subscriber"
    )
    page.wait_for_load_state()
    shots(page, "subscription requested")
    assert subscriber.confirmed_at is None
    [message] = delivered_eventually(mail_folder, "procurement@customer.example", "")
    link = re.search(r"https?://\S+/subprocessors/confirm/\S+/", body_of(message)).group(0)

    page.goto("/" + link.split("://", 1)[1].split("/", 1)[1])
    shots(page, "confirmation page")
    page.click("button:has-text('Confirm subscription')")
    eventually(
        lambda: NoticeSubscriber.objects.filter(pk=subscriber.pk, confirmed_at__isnull=False).exists(),
        what="the subscription confirmed",
    )
    page.wait_for_load_state()
    shots(page, "subscription confirmed")


def test_compliance_officer_reads_the_appeal_answer_before_sending_it_and_the_requester_gets_that_text(
    new_page, shots, protections_on, mail_folder, officer, agent, refused_request
):
    """A Virginia refusal appealed: the officer decides with the answer on screen, as the requester will read
    it; a decision changed after its preview is shown again, never sent unseen; the worker delivers the
    letter word for word as previewed."""
    from requests_app.services import appeal_open

    request = refused_request(region="VA", rights=["access", "erasure"], refuse=["erasure"])
    appeal = appeal_open(request=request, actor=agent)
    page = new_page()
    log_in(page, officer, shots, "officer")
    page.goto(f"/admin/requests_app/appeal/{appeal.pk}/decide/")
    page.select_option("#id_outcome", "upheld")
    page.fill("#id_outcome_reason", "The investigation file stays closed to requests while it runs.")
    assert not page.is_visible("input[name=_send]")  # nothing can be sent before it is read
    page.click("input[name=_preview]")
    page.wait_for_selector("text=The answer the requester will get")
    shots(page, "officer previews the appeal decision")
    first = page.inner_text(".letter-preview")
    assert "stays closed to requests while it runs" in first and "Attorney General" in first

    page.fill("#id_outcome_reason", "The file stays closed until the investigation ends in March.")
    page.click("input[name=_send]")  # changed after the preview: shown again, not sent
    page.wait_for_selector("text=The decision changed after its preview")
    shots(page, "officer changed the reasons after the preview")
    previewed = page.inner_text(".letter-preview")
    assert "until the investigation ends in March" in previewed
    assert not request.communications.filter(template="appeal_decision").exists()

    page.click("input[name=_send]")
    page.wait_for_selector("ul.messagelist")
    assert "Appeal decided" in page.inner_text("ul.messagelist")
    letter = delivered_letter(request, "appeal_decision")
    [message] = delivered_eventually(mail_folder, request.requester_email, letter.subject)

    def words(text: str) -> str:
        return " ".join(text.split())

    # What was read on screen is what was stored and what reached the requester.
    assert words(letter.body) in words(previewed) and letter.subject in previewed
    assert words(letter.body) in words(body_of(message))
