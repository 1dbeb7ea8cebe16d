"""Demo step of the fulfilment workers: three requests carried out on the sample platform, once.

- an access and portability request whose bundle is ready, with a download link
  that has been used once;
- an erasure and restriction request approved and carried out: steps done,
  invoices kept under the VAT rule, ledger entries, Art. 19 notices sent (one
  confirmed);
- an erasure request whose plan awaits a compliance officer's approval.

The work runs in-process (as the worker would run it) so the demo does not
depend on a worker being up while it loads.
"""

from __future__ import annotations

from celery import current_app
from django.contrib.auth import get_user_model

from compliance.connectors import get_connector
from compliance.models import ManualTask, ManualTaskTable, SystemOfRecord
from fulfilment.models import DownloadAttempt, FulfilmentPlan, RecipientNotice
from requests_app.models import RightsRequest
from requests_app.services import rights_request_identity_record, rights_request_open

DEMO_MARK = "[demo fulfilment] "
PLATFORM_SLUG = "studio-platform"


def _request(subject, rights: list[str], regime: str, description: str, officer) -> RightsRequest:
    local = subject.email.split("@", 1)[0].replace(".", " ").replace("_", " ").title()
    request = rights_request_open(
        requester_name=local,
        requester_email=subject.email,
        account_ref=subject.account_ref or "",
        regime=regime,
        rights=rights,
        channel="email",
        description=DEMO_MARK + description,
        actor=officer,
    )
    rights_request_identity_record(
        request=request,
        method="email_match",
        outcome="verified",
        note="Replied from the account's address.",
        actor=officer,
    )
    return request


def _answer_manual_locates(request: RightsRequest, officer) -> None:
    """The people behind manual systems report what they found (nothing, in the demo); the locate resumes."""
    from compliance.manual_tasks import manual_task_complete
    from fulfilment.services import locate_step_run

    for step in request.fulfilment_steps.filter(kind="locate", status="waiting"):
        task_id = int(step.external_reference.rsplit(" ", 1)[-1])
        task = ManualTask.objects.get(pk=task_id)
        if task.status == ManualTask.Status.OPEN:
            ManualTaskTable.objects.filter(task=task, rows__isnull=True).update(rows=0)
            manual_task_complete(task_id=task_id, actor=officer, outcome="Searched: nothing found for this person.")
        locate_step_run(step_id=step.pk)


def _drain(request: RightsRequest) -> None:
    """Do the request's queued work in-process, as a worker would (on-commit queueing may be deferred)."""
    from fulfilment.services import (
        bundle_assemble,
        change_step_run,
        export_system_run,
        locate_step_run,
        notice_send,
        notices_create,
        plan_progress,
    )

    for _ in range(50):
        pending = list(request.fulfilment_steps.filter(status__in=["pending", "running"]).order_by("position", "pk"))
        for step in pending:
            if step.kind == "locate":
                locate_step_run(step_id=step.pk)
            elif step.kind == "export":
                export_system_run(bundle_id=step.bundle_id, system_id=step.system_id)
            else:
                change_step_run(step_id=step.pk)
        for bundle in request.export_bundles.filter(status="building"):
            bundle_assemble(bundle_id=bundle.pk)
        for plan in request.fulfilment_plans.filter(status="approved"):
            plan_progress(plan_id=plan.pk)
        if not pending:
            break
    changes = request.fulfilment_plans.exclude(kind="export")
    if changes.exists() and not changes.exclude(status="completed").exists():
        notices_create(request_id=request.pk)
    for notice in request.recipient_notices.filter(status="pending"):
        notice_send(notice_id=notice.pk)


def _carry_out(request: RightsRequest, officer) -> None:
    _drain(request)
    _answer_manual_locates(request, officer)
    _drain(request)


def load_demo_fulfilment(*, stdout) -> None:
    """Load the fulfilment demo (safe to run again: it does nothing once loaded)."""
    from fulfilment.services import (
        download_authorise,
        fulfilment_start,
        notice_confirm,
        plan_approve,
    )

    if RightsRequest.objects.filter(description__startswith=DEMO_MARK).exists():
        stdout.write("  fulfilment: demo already loaded.")
        return
    system = SystemOfRecord.objects.filter(slug=PLATFORM_SLUG).first()
    officer = get_user_model().objects.filter(username="officer").first()
    if system is None or officer is None:
        stdout.write("  fulfilment: no sample platform data map or officer; demo skipped.")
        return
    subjects = [s for s in get_connector(system).sample_subjects(400) if s.email]
    if len(subjects) < 3:
        stdout.write("  fulfilment: the sample platform has too few accounts; demo skipped.")
        return
    access_subject, erased_subject, pending_subject = subjects[-1], subjects[-2], subjects[-3]

    eager = current_app.conf.task_always_eager
    current_app.conf.task_always_eager = True
    try:
        access = _request(
            access_subject, ["access", "portability"], "uk_gdpr", "Wants a copy of everything, to move it.", officer
        )
        fulfilment_start(request=access, actor=officer)
        _carry_out(access, officer)
        bundle = access.export_bundles.first()
        link = bundle.links.first() if bundle else None
        if link is not None:
            download_authorise(link=link, answer=access.requester_email, client="demo")

        erasure = _request(
            erased_subject,
            ["erasure", "restriction"],
            "eu_gdpr",
            "Closing my account: delete my data; restrict what you must keep.",
            officer,
        )
        fulfilment_start(request=erasure, actor=officer)
        _carry_out(erasure, officer)
        for plan in FulfilmentPlan.objects.filter(request=erasure, status=FulfilmentPlan.Status.AWAITING_APPROVAL):
            plan_approve(plan=plan, actor=officer)
        _drain(erasure)
        notice = RecipientNotice.objects.filter(request=erasure, status=RecipientNotice.Status.SENT).first()
        if notice is not None:
            notice_confirm(notice=notice, via="staff", actor=officer)

        pending = _request(pending_subject, ["erasure"], "uk_gdpr", "Please erase my account.", officer)
        fulfilment_start(request=pending, actor=officer)
        _carry_out(pending, officer)
    finally:
        current_app.conf.task_always_eager = eager
    stdout.write(
        f"  fulfilment: 3 requests carried out on the sample platform ({access.reference} bundle ready, "
        f"{erasure.reference} erased with {erasure.recipient_notices.count()} Art. 19 notices, "
        f"{pending.reference} awaiting approval); "
        f"{DownloadAttempt.objects.count()} download recorded."
    )
