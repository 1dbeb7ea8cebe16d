"""Starting fulfilment, planning, approval, refusals, retry and waiver, restriction and rectification."""

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connections

from compliance.connectors.webhook import SIGNATURE_HEADER, TIMESTAMP_HEADER, sign, verify
from compliance.manual_tasks import manual_task_complete
from compliance.models import DataCategory, ManualTask, MappedColumn, MappedTable, SystemOfRecord
from fulfilment.models import ErasureLedgerEntry, FulfilmentPlan, FulfilmentStep, LocatedTable
from fulfilment.selectors import kept_items, letter_context
from fulfilment.services import (
    change_step_run,
    fulfilment_start,
    plan_approve,
    step_retry,
    step_waive,
    waiting_steps_poll,
)
from requests_app.services import request_line_complete, rights_request_close
from tests.support.platform import platform_rows, platform_state, platform_values

pytestmark = [pytest.mark.django_db(databases=["default", "platform"]), pytest.mark.usefixtures("eager_tasks")]


def _start(request, actor, capture):
    with capture(execute=True):
        return fulfilment_start(request=request, actor=actor)


def test_an_unverified_request_is_refused_and_nothing_is_located(
    platform, open_request, officer, django_capture_on_commit_callbacks, fulfilment_log
):
    request = open_request(platform.subject, ["erasure"], verified=False)
    with pytest.raises(ValidationError, match="identity is not verified"):
        _start(request, officer, django_capture_on_commit_callbacks)
    assert not FulfilmentStep.objects.filter(request=request).exists()
    assert "refused for request" in fulfilment_log.text and platform.subject.email not in fulfilment_log.text


def test_a_request_already_fulfilled_or_closed_is_refused(
    platform, open_request, officer, django_capture_on_commit_callbacks
):
    request = open_request(platform.subject, ["access"])
    request_line_complete(line=request.lines.get(), outcome="fulfilled", reason="", actor=officer)
    with pytest.raises(ValidationError, match="already completed"):
        _start(request, officer, django_capture_on_commit_callbacks)
    rights_request_close(request=request, actor=officer)
    request.refresh_from_db()
    with pytest.raises(ValidationError, match="answered or closed"):
        _start(request, officer, django_capture_on_commit_callbacks)
    assert not FulfilmentStep.objects.filter(request=request).exists()


def test_starting_twice_is_refused(platform, open_request, officer, django_capture_on_commit_callbacks):
    request = open_request(platform.subject, ["erasure"])
    _start(request, officer, django_capture_on_commit_callbacks)
    with pytest.raises(ValidationError, match="already started"):
        _start(request, officer, django_capture_on_commit_callbacks)


def test_support_agents_cannot_start_or_approve(
    platform, open_request, officer, agent, django_capture_on_commit_callbacks
):
    request = open_request(platform.subject, ["erasure"])
    with pytest.raises(PermissionDenied):
        fulfilment_start(request=request, actor=agent)
    _start(request, officer, django_capture_on_commit_callbacks)
    with pytest.raises(PermissionDenied):
        plan_approve(plan=FulfilmentPlan.objects.get(request=request), actor=agent)


def test_locate_counts_each_table_and_finds_nothing_of_other_accounts(
    platform, open_request, officer, django_capture_on_commit_callbacks
):
    request = open_request(platform.subject, ["access"])
    _start(request, officer, django_capture_on_commit_callbacks)
    counts = dict(LocatedTable.objects.filter(request=request).values_list("table__table_name", "rows"))
    account_id = int(platform.subject.account_ref)
    assert counts["api_requests"] == len(
        platform_rows("api_requests", where="WHERE account_id = %s", params=[account_id])
    )
    assert counts["accounts"] == 1
    assert counts["support_tickets"] == len(
        platform_values(
            "SELECT id FROM support_tickets WHERE lower(requester_email) = %s", [platform.subject.email.lower()]
        )
    )


def test_an_erasure_step_of_an_unapproved_plan_is_refused_and_changes_nothing(
    platform, open_request, officer, django_capture_on_commit_callbacks, fulfilment_log
):
    request = open_request(platform.subject, ["erasure"])
    _start(request, officer, django_capture_on_commit_callbacks)
    plan = FulfilmentPlan.objects.get(request=request)
    # A step forged for the unapproved plan (as a stray message would carry) must not run.
    entry = next(e for e in plan.tables if e["table"] == "api_keys")
    step = FulfilmentStep.objects.create(
        request=request,
        plan=plan,
        system_id=entry["system_id"],
        table_id=entry["table_id"],
        kind="erase",
        key="erase:forged:0:0",
        action="delete",
    )
    before = platform_state()
    change_step_run(step_id=step.pk)
    assert platform_state() == before
    step.refresh_from_db()
    assert step.status == "pending"
    assert "is not approved" in fulfilment_log.text


def test_approving_twice_is_refused(platform, open_request, officer, django_capture_on_commit_callbacks):
    request = open_request(platform.subject, ["erasure"])
    _start(request, officer, django_capture_on_commit_callbacks)
    plan = FulfilmentPlan.objects.get(request=request)
    with django_capture_on_commit_callbacks(execute=True):
        plan_approve(plan=plan, actor=officer)
    with pytest.raises(ValidationError, match="not awaiting approval"):
        plan_approve(plan=plan, actor=officer)


def test_a_small_plan_under_a_regime_waiver_runs_without_approval(
    platform, open_request, officer, settings, django_capture_on_commit_callbacks
):
    settings.ERASURE_APPROVAL_WAIVER = {"ccpa": 100_000}
    request = open_request(platform.subject, ["erasure"], regime="ccpa")
    _start(request, officer, django_capture_on_commit_callbacks)
    plan = FulfilmentPlan.objects.get(request=request)
    assert plan.status == FulfilmentPlan.Status.COMPLETED
    assert "ERASURE_APPROVAL_WAIVER" in plan.approval_waiver and plan.approved_by is None
    other = open_request(platform.other, ["erasure"], regime="uk_gdpr")
    _start(other, officer, django_capture_on_commit_callbacks)
    assert FulfilmentPlan.objects.get(request=other).status == FulfilmentPlan.Status.AWAITING_APPROVAL


def test_a_plan_larger_than_the_waiver_still_needs_approval(
    platform, open_request, officer, settings, django_capture_on_commit_callbacks
):
    settings.ERASURE_APPROVAL_WAIVER = {"ccpa": 1}
    request = open_request(platform.subject, ["erasure"], regime="ccpa")
    _start(request, officer, django_capture_on_commit_callbacks)
    assert FulfilmentPlan.objects.get(request=request).status == FulfilmentPlan.Status.AWAITING_APPROVAL


def test_erasure_runs_child_tables_before_parents_and_leaves_a_ledger_without_identifiers(
    platform, open_request, officer, django_capture_on_commit_callbacks
):
    request = open_request(platform.subject, ["erasure"])
    _start(request, officer, django_capture_on_commit_callbacks)
    with django_capture_on_commit_callbacks(execute=True):
        plan_approve(plan=FulfilmentPlan.objects.get(request=request), actor=officer)
    steps = list(
        FulfilmentStep.objects.filter(request=request, kind="erase").select_related("table").order_by("finished_at")
    )
    order = [s.table.table_name for s in steps]
    assert order.index("outputs") < order.index("prompts") < order.index("api_requests")
    assert order[-1] == "accounts"
    prompts = next(s for s in steps if s.table.table_name == "prompts")
    assert prompts.rows_deleted == prompts.rows_located > 0
    entry = ErasureLedgerEntry.objects.get(request_reference=request.reference)
    assert platform.subject.email not in str(entry.__dict__) and len(entry.email_hmac) == 64
    assert {t["table"] for t in entry.plan} >= {"prompts", "api_requests", "accounts"}
    # Invoices past their rule's period are erased with the rest; the ledger says which rows a replay keeps.
    invoices = next(t for t in entry.plan if t["table"] == "invoices")
    assert invoices["action"] == "mask" and invoices["keep_newer"][0][0] == "issued_at"


def test_a_failing_table_fails_its_step_with_a_clean_error_holds_its_parents_and_can_be_retried(
    platform, open_request, officer, django_capture_on_commit_callbacks
):
    request = open_request(platform.subject, ["erasure"])
    _start(request, officer, django_capture_on_commit_callbacks)
    plan = FulfilmentPlan.objects.get(request=request)
    # A trigger makes deleting the subject's API keys fail, as a broken system would.
    with connections["platform"].cursor() as cursor:
        cursor.execute(
            "CREATE FUNCTION refuse() RETURNS trigger AS $$ BEGIN RAISE EXCEPTION 'no deletes for %', OLD.name; "
            "END $$ LANGUAGE plpgsql"
        )
        cursor.execute("CREATE TRIGGER refuse_delete BEFORE DELETE ON api_keys FOR EACH ROW EXECUTE FUNCTION refuse()")
    with django_capture_on_commit_callbacks(execute=True):
        plan_approve(plan=plan, actor=officer)
    failed = FulfilmentStep.objects.get(request=request, kind="erase", table__table_name="api_keys")
    assert failed.status == "failed"
    assert "studio-platform.api_keys" in failed.error and "no deletes" not in failed.error
    accounts = FulfilmentStep.objects.get(request=request, kind="erase", table__table_name="accounts")
    assert accounts.status == "pending"  # the parent waits for its children
    assert FulfilmentPlan.objects.get(pk=plan.pk).status == FulfilmentPlan.Status.APPROVED
    assert request.lines.get().status != "completed"

    with connections["platform"].cursor() as cursor:
        cursor.execute("DROP TRIGGER refuse_delete ON api_keys")
    with django_capture_on_commit_callbacks(execute=True):
        step_retry(step=failed, actor=officer)
    failed.refresh_from_db()
    assert failed.status == "done" and failed.attempts == 2
    assert FulfilmentPlan.objects.get(pk=plan.pk).status == FulfilmentPlan.Status.COMPLETED


def test_a_waived_step_completes_the_line_as_partially_fulfilled_with_the_reason(
    platform, open_request, officer, agent, django_capture_on_commit_callbacks
):
    request = open_request(platform.subject, ["erasure"])
    _start(request, officer, django_capture_on_commit_callbacks)
    plan = FulfilmentPlan.objects.get(request=request)
    with connections["platform"].cursor() as cursor:
        cursor.execute(
            "CREATE FUNCTION refuse() RETURNS trigger AS $$ BEGIN RAISE EXCEPTION 'x'; END $$ LANGUAGE plpgsql"
        )
        cursor.execute("CREATE TRIGGER refuse_delete BEFORE DELETE ON api_keys FOR EACH ROW EXECUTE FUNCTION refuse()")
    with django_capture_on_commit_callbacks(execute=True):
        plan_approve(plan=plan, actor=officer)
    failed = FulfilmentStep.objects.get(request=request, kind="erase", table__table_name="api_keys")
    with pytest.raises(ValidationError):
        step_waive(step=failed, reason="  ", actor=officer)
    with pytest.raises(PermissionDenied):
        step_waive(step=failed, reason="Keys are revoked and hashed", actor=agent)
    with django_capture_on_commit_callbacks(execute=True):
        step_waive(step=failed, reason="Keys are revoked and hashed already", actor=officer)
    line = request.lines.get()
    assert line.outcome == "partially_fulfilled"
    assert "Keys are revoked and hashed already" in line.outcome_reason


def test_restriction_sets_the_mapped_flag_and_notifies_recipients(
    platform, vendors, open_request, officer, django_capture_on_commit_callbacks
):
    request = open_request(platform.subject, ["restriction"])
    _start(request, officer, django_capture_on_commit_callbacks)
    account_id = int(platform.subject.account_ref)
    assert platform_values("SELECT processing_restricted FROM accounts WHERE id = %s", [account_id]) == [(True,)]
    assert platform_values("SELECT count(*) FROM accounts WHERE processing_restricted") == [(1,)]
    assert request.lines.get().outcome == "fulfilled"
    notice = request.recipient_notices.get(subprocessor=vendors["helpdesk"])
    assert notice.actions == "restriction"


def test_rectification_opens_a_manual_task_with_the_change_and_completes_when_it_is_done(
    platform, open_request, officer, django_capture_on_commit_callbacks
):
    request = open_request(platform.subject, ["rectification"], description="My name is Ada King, not Ada Lovelace.")
    _start(request, officer, django_capture_on_commit_callbacks)
    plan = FulfilmentPlan.objects.get(request=request)
    assert plan.status == FulfilmentPlan.Status.AWAITING_APPROVAL
    assert plan.requested_change == "My name is Ada King, not Ada Lovelace."
    with django_capture_on_commit_callbacks(execute=True):
        plan_approve(plan=plan, actor=officer)
    step = FulfilmentStep.objects.get(request=request, kind="rectify")
    assert step.status == "waiting" and step.external_reference.startswith("manual task ")
    task = ManualTask.objects.get(pk=int(step.external_reference.split()[-1]))
    assert task.operation == "rectify" and "Ada King" in task.instructions
    assert task.system == SystemOfRecord.objects.get(slug="studio-platform")

    with django_capture_on_commit_callbacks(execute=True):
        waiting_steps_poll()
    assert FulfilmentStep.objects.get(pk=step.pk).status == "waiting"  # still open: nothing changes
    with django_capture_on_commit_callbacks(execute=True):
        manual_task_complete(task_id=task.pk, actor=officer, outcome="Name corrected in the CRM.")
    assert FulfilmentStep.objects.get(pk=step.pk).status == "done"  # at once, without waiting for the poll
    assert request.lines.get().outcome == "fulfilled"


def test_letters_list_what_erasure_kept_and_link_the_bundle(
    platform, open_request, officer, django_capture_on_commit_callbacks
):
    request = open_request(platform.subject, ["access", "erasure"])
    _start(request, officer, django_capture_on_commit_callbacks)
    with django_capture_on_commit_callbacks(execute=True):
        plan_approve(plan=FulfilmentPlan.objects.get(request=request, kind="erasure"), actor=officer)
    kept = kept_items(request)
    assert any(
        item["what"] == "Your billing and transaction data (in Studio platform)" and "VAT Notice 700/21" in item["why"]
        for item in kept
    )
    context = letter_context(request)
    assert context["download_url"].startswith("http") and "/data-export/" in context["download_url"]


class _CrmWebhook(BaseHTTPRequestHandler):
    """A system of record reached by webhook: answers locate and rectify, signed like the connector expects."""

    secret = "crm-shared-secret"
    received: list = []

    def do_POST(self):  # noqa: N802 - the http.server hook name
        body = self.rfile.read(int(self.headers["Content-Length"]))
        verify(
            self.secret, timestamp=self.headers[TIMESTAMP_HEADER], signature=self.headers[SIGNATURE_HEADER], body=body
        )
        payload = json.loads(body)
        _CrmWebhook.received.append(payload)
        if payload["operation"] == "locate":
            result = {"status": "done", "tables": [{"table": "contacts", "rows": 2}]}
        else:
            result = {"status": "done", "job": "crm-rectify-7"}
        data = json.dumps(result).encode()
        stamp = int(time.time())
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header(TIMESTAMP_HEADER, str(stamp))
        self.send_header(SIGNATURE_HEADER, sign(self.secret, stamp, data))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


@pytest.fixture
def crm_system(settings, baseline):
    settings.WEBHOOK_SECRETS = {"CRM_WEBHOOK_SECRET": _CrmWebhook.secret}
    _CrmWebhook.received = []
    server = HTTPServer(("127.0.0.1", 0), _CrmWebhook)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    system = SystemOfRecord.objects.create(
        name="CRM",
        slug="crm",
        owner="Sales ops",
        kind="webhook",
        webhook_url=f"http://127.0.0.1:{server.server_port}/studio",
        webhook_secret_setting="CRM_WEBHOOK_SECRET",
    )
    table = MappedTable.objects.create(
        system=system, table_name="contacts", subject_column="email", subject_key="email"
    )
    MappedColumn.objects.create(
        table=table, name="full_name", data_category=DataCategory.objects.get(slug="account-identity")
    )
    yield system
    server.shutdown()


def test_rectification_in_a_webhook_system_is_a_signed_call_carrying_the_change(
    platform, crm_system, open_request, officer, django_capture_on_commit_callbacks
):
    request = open_request(platform.subject, ["rectification"], description="Spell my surname Lovelace-King.")
    _start(request, officer, django_capture_on_commit_callbacks)
    assert LocatedTable.objects.get(request=request, system=crm_system).rows == 2
    with django_capture_on_commit_callbacks(execute=True):
        plan_approve(plan=FulfilmentPlan.objects.get(request=request), actor=officer)
    step = FulfilmentStep.objects.get(request=request, kind="rectify", system=crm_system)
    assert step.status == "done" and step.evidence == {"webhook": "crm-rectify-7"}
    call = _CrmWebhook.received[-1]
    assert call["operation"] == "rectify" and call["change"] == "Spell my surname Lovelace-King."
    assert call["subject"]["email"] == platform.subject.email.lower()
    # The SQL platform has no rectify operation: a person does it there.
    assert FulfilmentStep.objects.get(request=request, kind="rectify", system=platform.system).status == "waiting"


def test_the_back_office_record_of_the_request_is_kept_without_making_the_erasure_partial(
    platform, open_request, officer, django_capture_on_commit_callbacks
):
    from tests.support.platform import platform_execute

    # Someone without an account who wrote to support once, and whose requests the back office maps too.
    email = "walk-in.visitor@example.org"
    platform_execute(
        "INSERT INTO support_tickets (requester_email, subject, status, created_at) "
        "VALUES (%s, 'Billing question', 'closed', now())",
        [email],
    )
    back_office = SystemOfRecord.objects.create(
        name="Back office", slug="backoffice", owner="Compliance", kind="sql", database_alias="default"
    )
    table = MappedTable.objects.create(
        system=back_office,
        table_name="requests_app_rightsrequest",
        subject_column="requester_email",
        subject_key="email",
    )
    MappedColumn.objects.create(
        table=table,
        name="requester_email",
        data_category=DataCategory.objects.get(slug="account-identity"),
        treatment="hash",
    )
    from compliance.connectors import Subject

    request = open_request(Subject(email=email), ["erasure"])
    _start(request, officer, django_capture_on_commit_callbacks)
    plan = FulfilmentPlan.objects.get(request=request)
    actions = {(e["system"], e["table"]): e["action"] for e in plan.tables}
    assert actions == {
        ("backoffice", "requests_app_rightsrequest"): "keep",
        ("studio-platform", "support_tickets"): "mask",
    }
    with django_capture_on_commit_callbacks(execute=True):
        plan_approve(plan=plan, actor=officer)
    assert request.lines.get().outcome == "fulfilled"
    request.refresh_from_db()
    assert request.requester_email == email  # the back office's own record is untouched
    assert platform_values("SELECT requester_email FROM support_tickets WHERE requester_email = %s", [email]) == []
    assert kept_items(request) == [
        {
            "what": "A record of your request and of how we answered it",
            "why": "it is the evidence that we handled your request as the law requires",
            "until": f"for {request.regime.record_retention_months} months after we close your request",
        }
    ]


def test_a_join_only_table_neither_makes_the_erasure_partial_nor_is_listed_as_kept(
    platform, open_request, officer, django_capture_on_commit_callbacks
):
    from compliance.connectors import Subject
    from fulfilment.services.plans import NOTHING_PERSONAL_REASON
    from tests.support.platform import platform_execute

    email = "walk-in.writer@example.org"
    platform_execute(
        "INSERT INTO support_tickets (requester_email, subject, status, created_at) "
        "VALUES (%s, 'Where is my invoice?', 'closed', now())",
        [email],
    )
    ticket_id = platform_values("SELECT id FROM support_tickets WHERE requester_email = %s", [email])[0][0]
    platform_execute(
        "INSERT INTO support_messages (ticket_id, author, body, created_at) VALUES (%s, 'staff', 'Sent.', now())",
        [ticket_id],
    )
    # The messages reduced to a join: every mapped column marked not personal.
    MappedColumn.objects.filter(table__table_name="support_messages").update(
        not_personal=True, data_category=None, treatment="keep"
    )
    request = open_request(Subject(email=email), ["erasure"])
    _start(request, officer, django_capture_on_commit_callbacks)
    plan = FulfilmentPlan.objects.get(request=request)
    entries = {e["table"]: (e["action"], e["reason"]) for e in plan.tables}
    assert entries == {"support_tickets": ("mask", ""), "support_messages": ("keep", NOTHING_PERSONAL_REASON)}
    with django_capture_on_commit_callbacks(execute=True):
        plan_approve(plan=plan, actor=officer)

    assert request.lines.get().outcome == "fulfilled"
    assert kept_items(request) == []
    assert FulfilmentStep.objects.get(request=request, table__table_name="support_messages").rows_kept == 1


def test_marking_a_manual_task_done_in_the_admin_moves_its_step_on_at_once(
    client, platform, open_request, officer, django_capture_on_commit_callbacks
):
    """No wait for the beat poll: the task's save queues the step's job in the same transaction."""
    from django.urls import reverse

    from jobs.models import PendingJob

    request = open_request(platform.subject, ["rectification"], description="My name is Ada King.")
    _start(request, officer, django_capture_on_commit_callbacks)
    with django_capture_on_commit_callbacks(execute=True):
        plan_approve(plan=FulfilmentPlan.objects.get(request=request), actor=officer)
    step = FulfilmentStep.objects.get(request=request, kind="rectify")
    task = ManualTask.objects.get(pk=int(step.external_reference.split()[-1]))
    assert step.status == "waiting"
    client.force_login(officer)
    url = reverse("admin:compliance_manualtask_change", args=[task.pk])
    form = {
        "assignee": officer.pk,
        "outcome": "Name corrected.",
        "tables-TOTAL_FORMS": "0",
        "tables-INITIAL_FORMS": "0",
        "tables-MIN_NUM_FORMS": "0",
        "tables-MAX_NUM_FORMS": "1000",
        "_save": "Save",
    }
    # Saved without "Mark as done": the step still waits and nothing is queued for it.
    jobs_before = PendingJob.objects.filter(task_name="fulfilment.tasks.change_step_task", args=[step.pk]).count()
    with django_capture_on_commit_callbacks(execute=True):
        assert client.post(url, form).status_code == 302
    assert FulfilmentStep.objects.get(pk=step.pk).status == "waiting"
    assert PendingJob.objects.filter(task_name="fulfilment.tasks.change_step_task", args=[step.pk]).count() == (
        jobs_before
    )

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        response = client.post(url, {**form, "mark_done": "on"}, follow=True)
    assert "is done" in response.content.decode()
    assert callbacks, "nothing was sent on commit"
    assert PendingJob.objects.filter(task_name="fulfilment.tasks.change_step_task", args=[step.pk]).count() == (
        jobs_before + 1
    )
    assert FulfilmentStep.objects.get(pk=step.pk).status == "done"
    assert request.lines.get().outcome == "fulfilled"
